//! What a participant on a weak link asks of the others, and what clients say about
//! their call quality.
//!
//! `receive_limit` is call state ([`CallState::limit_receive`]): the cap a participant
//! asks for is kept with its place, told to the others at once and to anyone who
//! joins later in their view, so a mentee on a weak link is not flooded by a camera she
//! cannot receive. Clients honour it on the video they send her (mesh only: on the SFU
//! each subscriber picks its layer with `receive`).
//!
//! `stats` are content-free figures (round trip, loss, inbound bitrate, relayed or
//! not) folded into per-node Prometheus histograms labelled only by the media path:
//! no call, account or member is kept with them, and nothing is stored.

use std::sync::Arc;

use super::call::VideoCap;
use super::{DeviceLink, Signalling, call_state};
use crate::error::Refusal;
use crate::ids::now_millis;
use crate::protocol::call::{CallStats, MAX_STATS_KBPS, MAX_STATS_RTT_MS};
use crate::protocol::sfu::Topology;
use crate::protocol::{ErrorCode, ServerFrame};

/// One device's figures count at most this often; more frequent ones are acknowledged
/// and ignored, so one client cannot outweigh the others in a node's histograms.
pub const STATS_MIN_INTERVAL_MS: i64 = 5_000;

impl Signalling {
    pub(super) async fn limit_receive(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        cap: VideoCap,
    ) -> Result<(), Refusal> {
        let found = self.visible_call(device.account(), raw_call).await?;
        if found.topology == Topology::Sfu {
            return Err(call_state(
                "this call is on the SFU: choose what you receive with `receive`",
            ));
        }
        let me = self.device_of(device);
        let (call, step) = self
            .update(&found.id, |call| call.limit_receive(&me, cap))
            .await?;
        metrics::counter!("mentorhub_call_receive_limits_total").increment(1);
        device.send(&ServerFrame::Ok { reference });
        self.apply(&call, step).await;
        Ok(())
    }

    pub(super) async fn quality(
        &self,
        device: &Arc<dyn DeviceLink>,
        reference: Option<String>,
        raw_call: &str,
        stats: CallStats,
    ) -> Result<(), Refusal> {
        check_stats(&stats)?;
        let call = self.visible_call(device.account(), raw_call).await?;
        if call
            .participant_by_device(&self.device_of(device))
            .is_none()
        {
            return Err(call_state("you are not in this call on this connection"));
        }
        let now = now_millis();
        let due = match self.stats_at.get(&device.id()) {
            Some(last) => now - *last >= STATS_MIN_INTERVAL_MS,
            None => true,
        };
        if due {
            self.stats_at.insert(device.id(), now);
            record(&stats);
        }
        device.send(&ServerFrame::Ok { reference });
        Ok(())
    }
}

fn check_stats(stats: &CallStats) -> Result<(), Refusal> {
    let valid = stats.rtt_ms <= MAX_STATS_RTT_MS
        && stats.loss.is_finite()
        && (0.0..=1.0).contains(&stats.loss)
        && stats.inbound_kbps <= MAX_STATS_KBPS;
    if valid {
        Ok(())
    } else {
        Err(Refusal::new(
            ErrorCode::InvalidFrame,
            format!(
                "stats: rtt_ms 0 to {MAX_STATS_RTT_MS}, loss 0.0 to 1.0, inbound_kbps 0 to {MAX_STATS_KBPS}"
            ),
        ))
    }
}

fn record(stats: &CallStats) {
    let path = if stats.relayed { "relay" } else { "direct" };
    metrics::histogram!(crate::observability::CALL_RTT, "path" => path)
        .record(f64::from(stats.rtt_ms) / 1000.0);
    metrics::histogram!(crate::observability::CALL_LOSS, "path" => path).record(stats.loss);
    metrics::histogram!(crate::observability::CALL_INBOUND_KBPS, "path" => path)
        .record(f64::from(stats.inbound_kbps));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rtt_ms: u32, loss: f64, inbound_kbps: u32) -> CallStats {
        CallStats {
            rtt_ms,
            loss,
            inbound_kbps,
            relayed: false,
        }
    }

    #[test]
    fn stats_out_of_range_are_refused() {
        assert!(check_stats(&stats(120, 0.02, 800)).is_ok());
        assert!(check_stats(&stats(MAX_STATS_RTT_MS, 1.0, MAX_STATS_KBPS)).is_ok());
        for bad in [
            stats(MAX_STATS_RTT_MS + 1, 0.0, 0),
            stats(0, -0.1, 0),
            stats(0, 1.5, 0),
            stats(0, f64::NAN, 0),
            stats(0, 0.0, MAX_STATS_KBPS + 1),
        ] {
            assert_eq!(
                check_stats(&bad).unwrap_err().code,
                ErrorCode::InvalidFrame,
                "{bad:?}"
            );
        }
    }
}
