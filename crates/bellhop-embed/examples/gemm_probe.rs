//! Times Candle's matrix product on the encoder's shapes with the weight stored both ways:
//! the evidence behind the layout choice in `bert.rs`.

use candle_core::{Device, Tensor};
use std::time::Instant;
fn main() {
    for (m, k, n) in [
        (4096, 384, 1152),
        (4096, 384, 1536),
        (4096, 1536, 384),
        (16, 384, 1152),
    ] {
        let a = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).unwrap();
        let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
        let wt = w.t().unwrap();
        let wtc = wt.contiguous().unwrap();
        for (name, b) in [("t-view", &wt), ("contig", &wtc)] {
            let _ = a.matmul(b).unwrap();
            let iters = if m > 100 { 20 } else { 2000 };
            let t = Instant::now();
            for _ in 0..iters {
                let _ = a.matmul(b).unwrap();
            }
            let s = t.elapsed().as_secs_f64() / iters as f64;
            println!(
                "{m}x{k}x{n} {name}: {:.3} ms {:.1} GFLOP/s",
                s * 1e3,
                2.0 * (m * k * n) as f64 / s / 1e9
            );
        }
    }
}
