# lockstep's Ruby script: ruby.wasm's `ruby-init` reads it from standard input and parses and compiles
# it to instruction sequences without running it. The last line is a `break` outside any loop, which
# Ruby rejects only once it has read the whole file: its diagnostic (line, source, caret), after the
# prelude's notices, is the output every tier must print alike.

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
report = <<~TEXT
  points: #{square.map(&:to_s).join(' ')}
  perimeter: #{format('%.3f', square.perimeter)}
TEXT
case report
in String => text if text.match?(/perimeter: (\d+)\.\d+/)
  $stdout.puts text
else
  warn "unexpected"
end
primes = (2..100).select { |n| (2..Math.sqrt(n)).none? { |d| (n % d).zero? } }
puts primes.each_slice(5).map { |row| row.join(",") }
break
