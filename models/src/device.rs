//! Choosing where the model runs.

use candle_core::Device;

use crate::error::Result;

/// Where to run the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when built with the `cuda` feature and a GPU is present, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// The CUDA device with this ordinal; an error without the `cuda` feature.
    Cuda(usize),
}

impl DeviceChoice {
    /// The candle device for this choice.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => Ok(auto()),
            DeviceChoice::Cuda(ordinal) => cuda(ordinal),
        }
    }
}

#[cfg(feature = "cuda")]
fn auto() -> Device {
    if candle_core::utils::cuda_is_available() {
        match Device::new_cuda(0) {
            Ok(device) => return device,
            Err(e) => tracing::warn!(error = %e, "CUDA device 0 unavailable; using the CPU"),
        }
    }
    Device::Cpu
}

#[cfg(not(feature = "cuda"))]
fn auto() -> Device {
    Device::Cpu
}

#[cfg(feature = "cuda")]
fn cuda(ordinal: usize) -> Result<Device> {
    Ok(Device::new_cuda(ordinal)?)
}

#[cfg(not(feature = "cuda"))]
fn cuda(ordinal: usize) -> Result<Device> {
    Err(crate::error::Error::Device(format!(
        "CUDA device {ordinal} requested, but docfleet-models was built without the `cuda` \
         feature; rebuild with --features cuda or choose the CPU"
    )))
}
