//! Flushing: when (strategy) and how (buffers, retry, redrive).
pub mod strategy;
pub use strategy::{FlushAction, FlushScheduler, FlushStrategy};
