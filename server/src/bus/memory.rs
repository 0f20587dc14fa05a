//! The single-node bus: publishing is a direct call into the local hub.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use super::{Bus, BusHealth, BusSink, Envelope, MemoryState, SharedState, Topic};

#[derive(Default)]
pub struct MemoryBus {
    sink: OnceLock<Arc<dyn BusSink>>,
    state: Arc<MemoryState>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Bus for MemoryBus {
    fn attach(&self, sink: Arc<dyn BusSink>) {
        let _ = self.sink.set(sink);
    }

    fn publish(&self, envelope: Envelope) {
        if let Some(sink) = self.sink.get() {
            sink.deliver(&envelope);
        }
    }

    // One process: every topic is always "subscribed".
    fn subscribe(&self, _topic: &Topic) {}
    fn unsubscribe(&self, _topic: &Topic) {}

    async fn health(&self) -> BusHealth {
        BusHealth::Up
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn state(&self) -> Arc<dyn SharedState> {
        self.state.clone()
    }
}
