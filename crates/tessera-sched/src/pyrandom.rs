//! Python's random number generator, for replaying Gavel's random choices draw for draw.

/// Python's `random.Random(seed)`: MT19937 seeded by `init_by_array` from the seed's
/// 32-bit words, and `randrange(n)` as CPython draws it (`getrandbits` of n's bit length,
/// rejected until below n). For `--gavel-compat`: Gavel's FIFO draws from one.
#[derive(Debug, Clone)]
pub struct PyRandom {
    mt: Vec<u32>,
    idx: usize,
}

impl PyRandom {
    pub fn new(seed: u64) -> PyRandom {
        let mut key: Vec<u32> = Vec::new();
        let mut s = seed;
        loop {
            key.push(s as u32);
            s >>= 32;
            if s == 0 {
                break;
            }
        }
        let mut mt = vec![0u32; 624];
        mt[0] = 19_650_218;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom { mt, idx: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.idx >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[k] = v;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `randrange(n)` for 0 < n < 2^32.
    pub fn randrange(&mut self, n: usize) -> usize {
        let n = n.max(1) as u64;
        let k = 64 - (n).leading_zeros(); // n.bit_length()
        loop {
            let r = (self.next_u32() >> (32 - k)) as u64;
            if r < n {
                return r as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against CPython 3.11: `random.Random(0).getrandbits(32)`,
    /// `[random.Random(0).randrange(3) ...]`, `[random.Random(3).randrange(2) ...]`.
    #[test]
    fn draws_as_cpython_does() {
        assert_eq!(PyRandom::new(0).next_u32(), 3_626_764_237);
        let mut r = PyRandom::new(0);
        let a: Vec<usize> = (0..10).map(|_| r.randrange(3)).collect();
        assert_eq!(a, [1, 1, 0, 1, 2, 1, 1, 1, 1, 1]);
        let mut r = PyRandom::new(3);
        let b: Vec<usize> = (0..10).map(|_| r.randrange(2)).collect();
        assert_eq!(b, [0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
    }
}
