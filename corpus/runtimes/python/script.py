# lockstep's Python script: CPython reads it from standard input (`python.wasm -`) and runs it.
# Each line it prints exercises a different part of the interpreter: big integers, float
# formatting, dicts and comprehensions, string methods, a small class, and an exception caught.
import sys
from fractions import Fraction


class Account:
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError(f"{self.owner}: {amount} exceeds balance {self.balance}")
        self.balance -= amount
        return self.balance

    def __repr__(self):
        return f"Account({self.owner!r}, {self.balance})"


print("ints:", 2**100, sum(range(1, 10_001)), divmod(-7, 3))
print("floats: %.6f %s %r" % (3.14159265358979 * 2, 1e308 * 10, 0.1 + 0.2))
print("fraction:", Fraction(1, 3) + Fraction(1, 6))
words = "the quick brown fox jumps over the lazy dog the end".split()
counts = {}
for word in words:
    counts[word] = counts.get(word, 0) + 1
print("dict:", sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
squares = {n: n * n for n in range(10) if n % 3 == 0}
print("comprehension:", squares, [c.upper() for c in "wasi"])
print("format: {:>8}|{:<6}|{:^7}|{:08.3f}|{:x}".format("right", "left", "mid", 2.5, 255))
account = Account("ada", 100)
account.withdraw(30)
try:
    account.withdraw(500)
except ValueError as error:
    print("caught:", error)
print("account:", account)
print("version:", sys.version_info[:3], sys.platform)
