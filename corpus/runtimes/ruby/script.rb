# lockstep's Ruby script. ruby.wasm's `ruby-init` starts the VM and returns; `RUBYOPT=-r./script.rb`
# makes it require this file while it starts, so the script runs inside that one call. Ruby on WASI
# raises, switches fibers and scans the stack for its garbage collector by unwinding with its own
# Asyncify instrumentation: the rescue, the fiber and `GC.start` below exercise it on every tier.
$stdout.sync = true # `ruby-init` returns without Ruby's exit-time flush

module Shapes
  Point = Struct.new(:x, :y) do
    def +(other) = Point.new(x + other.x, y + other.y)
    def to_s = "(#{x}, #{y})"
  end

  class Polygon
    include Enumerable

    def initialize(*points) = @points = points
    def each(&block) = @points.each(&block)

    def perimeter
      each_cons(2).sum { |a, b| Math.hypot(b.x - a.x, b.y - a.y) } +
        Math.hypot(first.x - to_a.last.x, first.y - to_a.last.y)
    end
  end
end

square = Shapes::Polygon.new(*[[0, 0], [0, 1], [1, 1], [1, 0]].map { Shapes::Point.new(*_1) })
puts "points: #{square.map(&:to_s).join(' ')}"
puts "perimeter: #{format('%.3f', square.perimeter)}"
primes = (2..100).select { |n| (2..Math.sqrt(n)).none? { |d| (n % d).zero? } }
puts "primes: #{primes.each_slice(5).map { |row| row.join(',') }.join(' / ')}"
puts "big: #{2**100} #{(1..25).reduce(:*)}"

def checked_divide(a, b)
  raise ZeroDivisionError, "#{a} / #{b}" if b.zero?

  a / b
end
begin
  checked_divide(7, 0)
rescue ZeroDivisionError => e
  puts "rescued: #{e.class}: #{e.message}"
end
puts "caught: #{catch(:found) { (1..10).each { |i| throw :found, i * i if i > 3 } }}"

fibers = Fiber.new do
  3.times { |i| Fiber.yield "fiber #{i}" }
  "fiber done"
end
puts 4.times.map { fibers.resume }.join(", ")

garbage = Array.new(20_000) { |i| "string #{i}" * 2 }
garbage = nil
GC.start
puts "gc: #{GC.count > 0} #{garbage.inspect}"
puts "hash: #{{ b: 2, a: 1 }.sort.to_h} #{%w[pear fig apple].sort_by(&:size)}"
