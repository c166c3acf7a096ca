//! The optional rate limit of a sink, shared by its lanes: requests wait (shaping, never
//! dropping).

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

pub struct RateLimits {
    bytes: Option<(DefaultDirectRateLimiter, u32)>,
    items: Option<(DefaultDirectRateLimiter, u32)>,
}

impl RateLimits {
    /// Bytes and items (lines, samples) per second; `None` is unlimited.
    pub fn new(bytes_per_second: Option<u64>, items_per_second: Option<u64>) -> Self {
        let limiter = |per_second: u64| {
            let rate = NonZeroU32::new(per_second.clamp(1, u64::from(u32::MAX)) as u32)?;
            Some((RateLimiter::direct(Quota::per_second(rate)), rate.get()))
        };
        Self {
            bytes: bytes_per_second.and_then(limiter),
            items: items_per_second.and_then(limiter),
        }
    }

    pub async fn wait(&self, bytes: usize, items: usize) {
        for (limiter, amount) in [(&self.bytes, bytes), (&self.items, items)] {
            let Some((limiter, burst)) = limiter else {
                continue;
            };
            // A request larger than one second's worth waits in one-second steps.
            let mut left = amount as u64;
            while left > 0 {
                let step = left.min(u64::from(*burst)) as u32;
                if let Some(step) = NonZeroU32::new(step) {
                    let _ = limiter.until_n_ready(step).await;
                }
                left -= u64::from(step);
            }
        }
    }
}
