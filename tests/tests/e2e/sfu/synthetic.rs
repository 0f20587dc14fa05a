//! Synthetic media for the SFU agent: webrtc-rs encodes nothing, so the agent writes
//! Opus frames of filler and VP8 frames with a real frame header (a key frame every
//! second), which is all an SFU looks at.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::task::JoinHandle;
use webrtc::media::Sample;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

/// Simulcast layers, highest first (the order Janus, like browsers, expects), with the
/// bytes per video frame each sends (30 fps): ≈ 360, 120 and 40 kbit/s.
pub(super) const LAYERS: [(&str, usize); 3] = [("f", 1500), ("h", 500), ("q", 160)];
/// Without simulcast, one layer of this size.
pub(super) const SINGLE_FRAME: usize = 800;

/// A media writer task, stopped when dropped.
pub(super) struct Writer(JoinHandle<()>);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes a frame of `size` bytes every `every`; for video a VP8 frame (a key frame
/// every `key_every` frames), for audio filler.
pub(super) fn write_loop(
    track: Arc<TrackLocalStaticSample>,
    every: Duration,
    size: usize,
    key_every: Option<u32>,
) -> Writer {
    Writer(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut frame = 0u32;
        loop {
            tick.tick().await;
            let data = match key_every {
                Some(key_every) => vp8_frame(frame.is_multiple_of(key_every), size),
                None => Bytes::from(vec![0xf8; size]),
            };
            let sample = Sample {
                data,
                timestamp: SystemTime::now(),
                duration: every,
                ..Default::default()
            };
            if track.write_sample(&sample).await.is_err() {
                break;
            }
            frame = frame.wrapping_add(1);
        }
    }))
}

/// A VP8 frame: the 3-byte frame tag (key frames add the start code and a 320×240
/// size), then filler. An SFU reads only this header (key frames, to switch layers).
fn vp8_frame(key: bool, size: usize) -> Bytes {
    let first_partition = 10u32;
    let tag = u32::from(!key) | (1 << 4) | (first_partition << 5);
    let mut data = vec![tag as u8, (tag >> 8) as u8, (tag >> 16) as u8];
    if key {
        data.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
    }
    data.resize(size.max(data.len()), 0x5a);
    Bytes::from(data)
}
