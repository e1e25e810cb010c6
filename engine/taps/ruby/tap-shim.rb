# Evaluates a tap's formula and cask files once per platform tag and prints, as
# JSON, every download each one names: the union over brew 6.0.18's 17 OS/arch
# tags (`OnSystem::VALID_OS_ARCH_TAGS`). It is a small model of brew's formula
# and cask DSL, not brew: whatever decides a download (url, sha256, resource,
# patch, bottle, the on_* blocks, OS.mac?, Hardware::CPU, version, arch, os) is
# evaluated as Ruby for the tag being simulated; the rest of the DSL (install,
# test, caveats, livecheck, artifacts, ...) is accepted and ignored. What it
# cannot evaluate (a `url do` block, a version only brew's parser knows, a
# missing constant) is an error of that file, reported, never guessed.
#
# Runs inside Ruby 4.0 on WASI (engine/taps/ruby/sandbox.js): no sockets, and
# only the tap's files, mounted read-only in spirit at /tap (a copy).
require "json"

module HBS
  # [tag, os, arch, macOS version index (newest first), or nil on Linux]
  MACOS = %i[golden_gate tahoe sequoia sonoma ventura monterey big_sur catalina mojave high_sierra sierra el_capitan].freeze
  TAGS = ENV.fetch("SHIM_TAGS").split(",").map do |tag|
    arm = tag.start_with?("arm64_")
    base = tag.sub(/\A(arm64|x86_64)_/, "")
    [tag, base == "linux" ? :linux : :macos, arm ? :arm : :intel, base == "linux" ? nil : base.to_sym]
  end.freeze

  class << self
    attr_accessor :tag, :os, :arch, :macos
  end

  def self.simulate(entry)
    self.tag, self.os, self.arch, self.macos = entry
  end

  # An error of the file being evaluated that says why it is not mirrored.
  class Unsupported < StandardError; end

  # `on_sonoma :or_newer`, `on_big_sur :or_older`, `on_ventura` (that version only).
  def self.macos_matches?(version, qualifier)
    return false unless os == :macos && macos
    have = MACOS.index(macos)
    want = MACOS.index(version)
    case qualifier
    when nil then have == want
    when :or_newer then have <= want
    when :or_older then have >= want
    else raise Unsupported, "on_#{version} #{qualifier.inspect} is not a qualifier brew knows"
    end
  end

  # The `on_*` blocks every DSL here shares: run the block when the simulated tag matches.
  module OnSystem
    def on_macos = (yield if HBS.os == :macos)
    def on_linux = (yield if HBS.os == :linux)
    def on_arm = (yield if HBS.arch == :arm)
    def on_intel = (yield if HBS.arch == :intel)
    def on_system(linux = nil, macos: nil, &block)
      yield if (HBS.os == :linux && linux) || (macos && HBS.macos_matches?(*Array(macos)))
    end

    MACOS.each do |version|
      define_method(:"on_#{version}") { |qualifier = nil, &block| block.call if HBS.macos_matches?(version, qualifier) }
    end
  end

  # brew's cask version: a String with the helpers casks interpolate.
  class Version < String
    def major = Version.new(split(/[.,:_-]/)[0].to_s)
    def minor = Version.new(split(/[.,:_-]/)[1].to_s)
    def patch = Version.new(split(/[.,:_-]/)[2].to_s)
    def major_minor = Version.new(split(/[.,:_-]/)[0, 2].join("."))
    def major_minor_patch = Version.new(split(/[.,:_-]/)[0, 3].join("."))
    def csv = split(",").map { |part| Version.new(part) }
    def before_comma = Version.new(split(",", 2)[0].to_s)
    def after_comma = Version.new(split(",", 2)[1].to_s)
    def no_dots = Version.new(delete("."))
    def no_hyphens = Version.new(delete("-"))
    def dots_to_underscores = Version.new(tr(".", "_"))
    def dots_to_hyphens = Version.new(tr(".", "-"))
    def chomp(*) = Version.new(super)
    def latest? = self == "latest"
    def to_str = to_s
  end

  # Downloads found for one file, merged over tags: [url, sha256] => record.
  class Collector
    attr_reader :downloads, :problems

    def initialize
      @downloads = {}
      @problems = {}
    end

    def add(kind, url, sha256, detail = nil)
      key = [kind, url, sha256, detail]
      (@downloads[key] ||= { "kind" => kind, "url" => url, "sha256" => sha256, "name" => detail, "tags" => [] })["tags"] << HBS.tag
    end

    def problem(what, reason)
      ((@problems[[what, reason]] ||= { "download" => what, "reason" => reason, "tags" => [] })["tags"] << HBS.tag)
    end

    def to_h = { "downloads" => @downloads.values, "problems" => @problems.values }
  end

  # Accepts any stanza it does not model: none of them names a download.
  module Lenient
    # Never claims to respond (so implicit conversions like to_str are not faked).
    def method_missing(_name, *_args, **_kwargs, &_block) = nil
  end

  # A url, its sha256 and how brew fetches it (stable, a resource, a patch).
  class Download
    include OnSystem
    include Lenient
    attr_reader :url_value, :sha256_value, :url_options, :version_value

    def initialize(&block)
      @url_options = {}
      instance_eval(&block) if block
    end

    def url(value = nil, **options)
      return @url_value if value.nil?
      @url_value = value.to_s
      @url_options = options
    end

    def sha256(value) = @sha256_value = value.to_s
    def version(value = nil) = value.nil? ? @version_value : (@version_value = value.to_s)
    def mirror(*) = nil

    # Why brew's fetch of this download cannot be mirrored, or nil.
    def unmirrorable
      return "no url" if @url_value.nil?
      using = @url_options[:using]
      git = using == :git || (using.nil? && (@url_options.key?(:tag) || @url_options.key?(:revision) || @url_options.key?(:branch)))
      return "a git source (#{@url_options.slice(:tag, :revision, :branch).map { |k, v| "#{k}: #{v}" }.join(", ")}): no sha256 to verify" if git
      return "downloaded #{using.inspect} by a strategy the mirror does not model" if using.is_a?(Symbol) && using != :homebrew_curl && using != :nounzip
      return "downloaded with a POST body (data:)" if @url_options.key?(:data)
      return "no sha256 to verify" if @sha256_value.nil?
      nil
    end
  end

  def self.record(collector, kind, download, name = nil)
    reason = download.unmirrorable
    return collector.problem([kind, name, download.url_value].compact.join(" "), reason) if reason
    collector.add(kind, download.url_value, download.sha256_value, name)
  end
end

# --- the constants formula and cask files reach for -----------------------------------------

module OS
  def self.mac? = HBS.os == :macos
  def self.linux? = HBS.os == :linux
  def self.kernel_name = mac? ? "Darwin" : "Linux"
end

module Hardware
  class CPU
    def self.arm? = HBS.arch == :arm
    def self.intel? = HBS.arch == :intel
    def self.arch = arm? ? :arm64 : :x86_64
    def self.type = HBS.arch
    def self.is_64_bit? = true
    def self.is_32_bit? = false
    def self.physical_cpu_arm64? = arm?
  end
end

class MacOSVersion
  include Comparable
  attr_reader :symbol

  def initialize(symbol) = @symbol = symbol
  def <=>(other) = HBS::MACOS.index(MacOSVersion.from(other).symbol) <=> HBS::MACOS.index(symbol)
  def self.from(value) = value.is_a?(MacOSVersion) ? value : new(value.to_sym)
  def to_sym = symbol
end

module MacOS
  def self.version = (raise HBS::Unsupported, "MacOS.version asked on Linux" unless HBS.macos) || MacOSVersion.new(HBS.macos)
end

# Stand-ins for download strategies a tap names (`using:`); a subclass in the tap is fine.
class AbstractDownloadStrategy; end
class CurlDownloadStrategy < AbstractDownloadStrategy; end
class CurlApacheMirrorDownloadStrategy < CurlDownloadStrategy; end
class GitDownloadStrategy < AbstractDownloadStrategy; end
class GitHubGitDownloadStrategy < GitDownloadStrategy; end

module Language
  module Python
    module Virtualenv; end
  end
  module Node; end
  module Perl
    module Shebang; end
  end
end

module Utils; end

# --- formulae ---------------------------------------------------------------------------------

class Formula
  class << self
    include HBS::OnSystem
    include HBS::Lenient
    attr_reader :hbs_stable, :hbs_resources, :hbs_patches, :hbs_bottle

    def inherited(subclass)
      super
      subclass.instance_variable_set(:@hbs_stable, HBS::Download.new)
      subclass.instance_variable_set(:@hbs_resources, {})
      subclass.instance_variable_set(:@hbs_patches, [])
    end

    def url(value = nil, **options) = @hbs_stable.url(value, **options)
    def sha256(value) = @hbs_stable.sha256(value)
    def mirror(*) = nil
    def stable(&block) = @hbs_stable.instance_eval(&block)
    def head(*, **) = nil # a branch to build from: never a verified download

    def version(value = nil)
      return @hbs_stable.version(value) unless value.nil?
      @hbs_stable.version || raise(HBS::Unsupported, "the formula reads its version, which only brew's version parser knows (it sets none)")
    end

    def revision(value = nil) = value.nil? ? (@hbs_revision || 0) : (@hbs_revision = value)
    def resource(name, &block) = (@hbs_resources[name] = HBS::Download.new(&block))

    def patch(strip = :p1, src = nil, &block)
      return if block.nil? # `patch :DATA` or an inline patch: nothing is downloaded
      @hbs_patches << HBS::Download.new(&block)
    end

    def bottle(&block)
      @hbs_bottle = Bottle.new
      @hbs_bottle.instance_eval(&block)
    end

    def depends_on(*) = nil
    # Kernel#test is private and would take these calls: `test do … end` is the formula's test.
    def test(*) = nil
  end

  # `bottle do root_url …; rebuild …; sha256 cellar: …, <tag>: "…" end`
  class Bottle
    include HBS::Lenient
    attr_reader :checksums, :root

    def initialize
      @checksums = {}
      @root = nil
      @rebuild = 0
    end

    def root_url(value = nil, **) = value.nil? ? @root : (@root = value)
    def rebuild(value = nil) = value.nil? ? @rebuild : (@rebuild = value)

    def sha256(hash)
      hash.each { |tag, digest| @checksums[tag.to_s] = digest.to_s unless tag == :cellar }
    end
  end
end

# The union of one formula's downloads for the simulated tag.
def hbs_formula_downloads(klass, name, collector)
  HBS.record(collector, "stable", klass.hbs_stable)
  klass.hbs_resources.each { |resource_name, download| HBS.record(collector, "resource", download, resource_name) }
  klass.hbs_patches.each { |download| HBS.record(collector, "patch", download) }
  bottle = klass.hbs_bottle
  return unless bottle
  digest = bottle.checksums[HBS.tag] || bottle.checksums["all"]
  return unless digest
  root = bottle.root
  return collector.problem("bottle", "the bottles' root_url is not set (they live on ghcr.io's homebrew/core, which this tap cannot use)") if root.nil?
  return collector.problem("bottle", "bottles on ghcr.io are fetched by image, not by file") if root.start_with?("https://ghcr.io/")
  bottle_tag = bottle.checksums.key?(HBS.tag) ? HBS.tag : "all"
  pkg_version = klass.version.to_s + (klass.revision.positive? ? "_#{klass.revision}" : "")
  suffix = bottle.rebuild.positive? ? ".#{bottle.rebuild}" : ""
  collector.add("bottle", "#{root}/#{name}--#{pkg_version}.#{bottle_tag}.bottle#{suffix}.tar.gz", digest, bottle_tag)
rescue HBS::Unsupported => e
  collector.problem("bottle", e.message)
end

# --- casks ------------------------------------------------------------------------------------

class HBSCask
  include HBS::OnSystem
  include HBS::Lenient

  def initialize(token)
    @token = token
    @url_options = {}
  end

  def version(value = nil)
    return @version || raise(HBS::Unsupported, "the cask reads version before setting it") if value.nil?
    @version = HBS::Version.new(value.to_s)
  end

  def sha256(value = nil, **by_arch)
    @sha256 = value.nil? ? pick(by_arch, "sha256") : value
  end

  # `arch arm: "arm64", intel: "x64"` sets the value `#{arch}` then reads for the simulated tag.
  def arch(**values) = values.empty? ? @arch : (@arch = HBS.arch == :arm ? values[:arm] : values[:intel])
  def os(**values) = values.empty? ? @os : (@os = HBS.os == :macos ? values[:macos] : values[:linux])

  def url(value = nil, **options, &block)
    raise HBS::Unsupported, "its url is computed by a `url do` block at install time" if block
    @url = value.to_s
    @url_options = options
  end

  # Languages: the default one's block only (`--cask-languages` is not offered for taps).
  def language(*_codes, default: false, &block)
    block.call if default
  end

  def depends_on(*, **) = nil

  def hbs_record(collector)
    return collector.problem("cask", "no url for this platform") if @url.nil?
    return collector.problem("cask #{@url}", "sha256 :no_check: no checksum to verify") if @sha256 == :no_check || @sha256.nil?
    return collector.problem("cask #{@url}", "downloaded with a POST body (data:)") if @url_options.key?(:data)
    collector.add("cask", @url, @sha256.to_s)
  end

  private

  # `sha256 arm: "…", intel: "…"` (also `x86_64:`, `arm64_linux:`, `x86_64_linux:`).
  def pick(by_arch, stanza)
    linux = HBS.os == :linux && by_arch[HBS.arch == :arm ? :arm64_linux : :x86_64_linux]
    linux || by_arch[HBS.arch == :arm ? :arm : :intel] || by_arch[HBS.arch == :arm ? :arm64 : :x86_64] ||
      raise(HBS::Unsupported, "#{stanza} names no value for #{HBS.tag}")
  end
end

$hbs_casks = []
def cask(token, &block)
  $hbs_casks << [token, block]
end

# --- the run ----------------------------------------------------------------------------------

def hbs_files(root)
  formula_dir = %w[Formula HomebrewFormula].map { |d| File.join(root, d) }.find { |d| Dir.exist?(d) }
  formulae = formula_dir ? Dir.glob(File.join(formula_dir, "**", "*.rb")) : Dir.glob(File.join(root, "*.rb"))
  casks = Dir.exist?(File.join(root, "Casks")) ? Dir.glob(File.join(root, "Casks", "**", "*.rb")) : []
  formulae.sort.map { |f| [f, "formula"] } + casks.sort.map { |f| [f, "cask"] }
end

def hbs_evaluate(path, kind)
  collector = HBS::Collector.new
  errors = {}
  source = File.read(path)
  name = File.basename(path, ".rb")
  HBS::TAGS.each do |entry|
    HBS.simulate(entry)
    $hbs_casks = []
    begin
      sandbox = Module.new
      sandbox.module_eval(source, path, 1)
      if kind == "formula"
        klass = sandbox.constants.map { |c| sandbox.const_get(c) }.find { |c| c.is_a?(Class) && c < Formula }
        raise HBS::Unsupported, "defines no Formula subclass" unless klass
        hbs_formula_downloads(klass, name, collector)
      else
        raise HBS::Unsupported, "defines no cask" if $hbs_casks.empty?
        $hbs_casks.each do |token, block|
          cask = HBSCask.new(token)
          cask.instance_eval(&block)
          cask.hbs_record(collector)
        end
      end
    rescue Exception => e # rubocop:disable Lint/RescueException -- any failure of a file is that file's, reported
      line = e.backtrace&.find { |l| l.start_with?(path) }&.then { |l| l[/:(\d+):/, 1] }
      message = "#{e.class == HBS::Unsupported ? "" : "#{e.class}: "}#{e.message.lines.first.to_s.strip.gsub(/#<Module:0x\h+>::/, "")}"
      (errors[[message, line]] ||= { "message" => message, "line" => line&.to_i, "tags" => [] })["tags"] << HBS.tag
    end
  end
  { "file" => path.delete_prefix("/tap/"), "kind" => kind, "name" => name, "errors" => errors.values }.merge(collector.to_h)
end

root = ENV.fetch("SHIM_TAP_ROOT", "/tap")
only = ENV["SHIM_FILES"]&.split(",")
files = hbs_files(root)
files = files.select { |f, _| only.include?(f.delete_prefix("#{root}/")) } if only
$stdout.write(JSON.generate({ "files" => files.map { |f, kind| hbs_evaluate(f, kind) } }))
$stdout.flush
