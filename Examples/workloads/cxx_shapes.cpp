// A C++ workload whose hot functions have the shapes demangling must get right:
// templates, operators, a lambda, an anonymous namespace, a const member function,
// and standard-library iterators. Usage: cxx_shapes [SECONDS]
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace {
__attribute__((noinline)) long hidden(const std::vector<int>& v) { long s = 0; for (int x : v) s += x % 7; return s; }
}

namespace shapes {
template <typename T> struct Box {
    T v;
    __attribute__((noinline)) T spin(int n) const { T s = 0; for (int i = 0; i < n; i++) s += v * i % 7; return s; }
    __attribute__((noinline)) bool operator<(const Box& o) const { long s = 0; for (int i = 0; i < 2000; i++) s += (v ^ i) % 3; return s < o.v; }
};
}

__attribute__((noinline)) long heavy(std::vector<int>& v, int n) { long s = 0; for (int k = 0; k < n; k++) for (int x : v) s += x * k % 13; return s; }

static double now() { timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char** argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1;
    std::vector<int> v(1000, 3);
    shapes::Box<long> a{5}, b{9};
    auto lambda = [&](int n) __attribute__((noinline)) { long s = 0; for (int i = 0; i < n; i++) s += v[i % 1000] * i % 11; return s; };
    long sum = 0;
    for (double end = now() + seconds; now() < end;) {
        sum += heavy(v, 2) + a.spin(20000) + (a < b) + lambda(20000) + hidden(v);
    }
    printf("%ld\n", sum & 0xff);
}
