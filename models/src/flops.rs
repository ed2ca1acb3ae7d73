//! Arithmetic cost of the encoder and the machine's matmul peak, so benchmarks can say how much
//! of the hardware the model uses (figures, not assertions).

use std::time::Instant;

use candle_core::{Device, Tensor};

use crate::{ModelConfig, Result};

impl ModelConfig {
    /// Floating-point operations (multiply and add counted apart) to encode one text of
    /// `tokens` tokens: the projections, the feed-forward layers and the two attention products.
    pub fn flops_per_text(&self, tokens: usize) -> f64 {
        let (t, h, i) = (
            tokens as f64,
            self.hidden_size as f64,
            self.intermediate_size as f64,
        );
        let projections = 2.0 * t * (4.0 * h * h + 2.0 * h * i);
        let attention = 2.0 * 2.0 * t * t * h;
        self.num_hidden_layers as f64 * (projections + attention)
    }
}

/// f32 matmul throughput of `device` in GFLOP/s on square `n`×`n` products, measured for at
/// least `min_secs` after one warm-up product. On the CPU: `threads` threads at once, each
/// multiplying on its own with the kernels the CPU encoder uses (its own layout of the work).
pub fn matmul_peak_gflops(device: &Device, threads: usize, n: usize, min_secs: f64) -> Result<f64> {
    if device.is_cpu() {
        return Ok(crate::cpu::matmul_peak_gflops(threads, n, min_secs));
    }
    let a = Tensor::randn(0f32, 1.0, (n, n), device)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), device)?;
    a.matmul(&b)?;
    let started = Instant::now();
    let mut products = 0u32;
    while products == 0 || started.elapsed().as_secs_f64() < min_secs {
        a.matmul(&b)?.sum_all()?.to_scalar::<f32>()?; // forces the work on lazy devices
        products += 1;
    }
    let flops = 2.0 * (n as f64).powi(3) * f64::from(products);
    Ok(flops / started.elapsed().as_secs_f64() / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, Pooling};

    #[test]
    fn minilm_costs_about_4_6_gflop_per_200_token_text() {
        let config = ModelConfig {
            vocab_size: 30522,
            hidden_size: 384,
            num_hidden_layers: 6,
            num_attention_heads: 12,
            intermediate_size: 1536,
            activation: Activation::GeluErf,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pooling: Pooling::Mean,
            max_tokens: 256,
        };
        let gflop = config.flops_per_text(200) / 1e9;
        assert!((4.5..4.7).contains(&gflop), "{gflop}");
        assert!(matmul_peak_gflops(&Device::Cpu, 2, 64, 0.0).unwrap() > 0.0);
    }
}
