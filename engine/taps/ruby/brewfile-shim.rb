# Evaluates a Brewfile (`brew bundle`'s DSL, bundle/dsl.rb in brew 6.0.18) once per
# platform tag and prints, as JSON, every entry it declares for any of them, with
# the line that declared it. `if OS.mac?`, `Hardware::CPU.arm?` and the like are
# answered for the tag being simulated, so the union covers every Mac and Linux
# machine of a fleet. An unknown method or a syntax error stops with its line:
# the caller turns it into a usage error naming the file and line. Runs inside
# Ruby 4.0 on WASI (sandbox.js) with the Brewfile's copy at /tap/Brewfile.
require "json"

module HBSBundle
  TAGS = ENV.fetch("SHIM_TAGS").split(",").map do |tag|
    base = tag.sub(/\A(arm64|x86_64)_/, "")
    [tag, base == "linux" ? :linux : :macos, tag.start_with?("arm64_") ? :arm : :intel]
  end.freeze
  # Entry types brew bundle knows that the mirror cannot serve (bundle/extensions/, and whalebrew from older brew).
  UNSERVED = %i[mas vscode go cargo uv flatpak winget npm krew whalebrew].freeze

  class << self
    attr_accessor :tag, :os, :arch
  end
end

module OS
  def self.mac? = HBSBundle.os == :macos
  def self.linux? = HBSBundle.os == :linux
end

module Hardware
  class CPU
    def self.arm? = HBSBundle.arch == :arm
    def self.intel? = HBSBundle.arch == :intel
    def self.arch = arm? ? :arm64 : :x86_64
  end
end

class HBSBrewfile
  attr_reader :entries

  def initialize(path)
    @path = path
    @entries = []
  end

  def brew(name, options = {}) = add(:brew, name, options)
  def cask(name, options = {}) = add(:cask, name, options)
  def cask_args(_options = {}) = nil

  def tap(name, clone_target = nil, options = {})
    options, clone_target = clone_target, nil if clone_target.is_a?(Hash)
    add(:tap, name, options.merge(clone_target ? { url: clone_target } : {}))
  end

  HBSBundle::UNSERVED.each do |type|
    define_method(type) { |name = nil, options = {}| add(type, name.to_s, options.is_a?(Hash) ? options : {}) }
  end

  private

  def add(type, name, options)
    raise ArgumentError, "#{type} needs a name" unless name.is_a?(String) && !name.empty?
    line = caller_locations.find { |l| l.path == @path }&.lineno
    @entries << { "type" => type.to_s, "name" => name, "line" => line, "tag" => HBSBundle.tag,
                  "url" => options[:url].is_a?(String) ? options[:url] : nil,
                  "trusted" => options.key?(:trusted) ? true : nil }
  end
end

path = "/tap/Brewfile"
source = File.read(path)
entries = {}
begin
  HBSBundle::TAGS.each do |tag, os, arch|
    HBSBundle.tag, HBSBundle.os, HBSBundle.arch = tag, os, arch
    brewfile = HBSBrewfile.new(path)
    brewfile.instance_eval(source, path, 1)
    brewfile.entries.each do |entry|
      key = [entry["type"], entry["name"], entry["url"]]
      (entries[key] ||= entry.merge("tags" => [])).then { |e| e["tags"] << tag }
    end
  end
  $stdout.write(JSON.generate({ "entries" => entries.values.map { |e| e.except("tag") } }))
rescue ScriptError, StandardError => e
  line = e.is_a?(SyntaxError) ? e.message[/:(\d+):/, 1] : e.backtrace&.find { |l| l.start_with?("#{path}:") }&.then { |l| l[/:(\d+)/, 1] }
  message =
    if e.is_a?(NoMethodError) then "`#{e.name}` is not a Brewfile entry brew bundle knows"
    elsif e.is_a?(SyntaxError) then "syntax error: #{e.message[/\^+ (.+)$/, 1] || "unreadable Ruby"}"
    else e.message.lines.first.to_s.strip.sub(/\A#{Regexp.escape(path)}:\d+: /, "")
    end
  $stdout.write(JSON.generate({ "error" => { "message" => message, "line" => line&.to_i } }))
end
$stdout.flush
