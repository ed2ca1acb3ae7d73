//! From token vectors to one unit-length vector per text.

use candle_core::Tensor;

use crate::config::Pooling;

/// Pools `states` (`[B, T, H]`, text `i` has `lengths[i]` real tokens, the rest padding) into one
/// L2-normalised vector per text.
pub fn pool(
    states: &Tensor,
    lengths: &[usize],
    pooling: Pooling,
) -> candle_core::Result<Vec<Vec<f32>>> {
    let (batch, seq_len, _hidden) = states.dims3()?;
    if lengths.len() != batch {
        candle_core::bail!("{} lengths for a batch of {batch}", lengths.len());
    }
    let pooled = match pooling {
        Pooling::Cls => states.narrow(1, 0, 1)?.squeeze(1)?,
        Pooling::Mean => {
            // Weights 1/len on real tokens, 0 on padding: [B, 1, T] · [B, T, H] = the means.
            let mut weights = vec![0f32; batch * seq_len];
            for (row, &len) in weights.chunks_mut(seq_len).zip(lengths) {
                let len = len.min(seq_len);
                if len > 0 {
                    row[..len].fill(1.0 / len as f32);
                }
            }
            let weights = Tensor::from_vec(weights, (batch, 1, seq_len), states.device())?;
            weights.matmul(states)?.squeeze(1)?
        }
    };
    let mut vectors = pooled.to_vec2::<f32>()?;
    for v in &mut vectors {
        l2_normalize(v);
    }
    Ok(vectors)
}

/// Scales `v` to unit length; leaves an all-zero vector as it is.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > f32::EPSILON {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn mean_pooling_ignores_padding_and_normalises() -> candle_core::Result<()> {
        // Two texts, T=3, H=2; the second has one padded position holding junk.
        let states = Tensor::from_vec(
            vec![
                1f32, 0., 3., 0., 2., 0., /* text 2 */ 0., 1., 0., 3., 100., 100.,
            ],
            (2, 3, 2),
            &Device::Cpu,
        )?;
        let v = pool(&states, &[3, 2], Pooling::Mean)?;
        assert_eq!(v[0], vec![1.0, 0.0]);
        assert_eq!(v[1], vec![0.0, 1.0]);
        let v = pool(&states, &[3, 2], Pooling::Cls)?;
        assert_eq!(v[0], vec![1.0, 0.0]);
        assert_eq!(v[1], vec![0.0, 1.0]);
        Ok(())
    }

    #[test]
    fn zero_vector_stays_zero() {
        let mut v = vec![0f32; 4];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.0; 4]);
    }
}
