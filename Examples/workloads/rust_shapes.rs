// Rust names for the demangling tests: a generic function, a trait method, a closure
// and a nested module, compiled with either mangling scheme (legacy or v0, see the test).
use std::hint::black_box;

mod shapes {
    pub trait Area { fn area(&self, n: u64) -> u64; }
    pub struct Square(pub u64);
    impl Area for Square {
        #[inline(never)]
        fn area(&self, n: u64) -> u64 {
            let mut x = self.0;
            for i in 0..n { x = x.wrapping_mul(6364136223846793005).wrapping_add(i); }
            x
        }
    }
    #[inline(never)]
    pub fn spin<T: Copy + Into<u64>>(v: T, n: u64) -> u64 {
        let mut x: u64 = v.into();
        for _ in 0..n { x ^= x << 13; x ^= x >> 7; x ^= x << 17; }
        x
    }
}

fn main() {
    use shapes::Area;
    let rounds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let sq = shapes::Square(3);
    let closure = |n: u64| -> u64 { shapes::spin(black_box(7u32), n) };
    let mut total = 0u64;
    for _ in 0..rounds {
        total = total.wrapping_add(sq.area(black_box(400_000)));
        total = total.wrapping_add(closure(black_box(400_000)));
    }
    println!("{}", total);
}
