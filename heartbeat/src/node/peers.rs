//! What the node says to its peers and what it makes of what it hears:
//! typed [`ClusterMessage`]s, signed with this node's generation and
//! sequence number; heard ones go through liveness, the per-node replay
//! guard and then to the cluster's decisions.

use std::time::Instant;

use tracing::{debug, info, warn};

use crate::membership::cluster_message::{ClusterMessage, DecodeError};
use crate::membership::intake::DropCounters;
use crate::membership::message::Message;
use crate::membership::replay::Freshness;

use super::cluster::Action;
use super::event_loop::Node;
use super::media::Media;

impl Node {
    /// Signs and sends `content` as this node's next message.
    pub(super) fn send(&mut self, content: &ClusterMessage, media: &mut Media) {
        self.seq += 1;
        let msg = content.to_message(&self.options.node, self.generation, self.seq);
        media.send(&msg.encode(&self.keys));
    }

    /// Announces this node's state.
    pub(super) fn send_status(&mut self, media: &mut Media) {
        self.send(&ClusterMessage::Status(self.cluster.announcement()), media);
    }

    /// An authenticated message, fresh on link `iface` (the receive
    /// thread checked that): liveness, then content once per node.
    pub(super) fn on_heard(&mut self, msg: Message, iface: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        for event in self.liveness.heard(&msg.src, iface, Instant::now()) {
            actions.extend(self.on_live_event(event));
        }
        let previous_generation = self.node_guard.generation(&msg.src);
        if self.node_guard.check(&msg.src, msg.generation, msg.seq) != Freshness::Fresh {
            return actions;
        }
        if previous_generation != Some(msg.generation) {
            if let Err(e) = self.peer_generations.record(&msg.src, msg.generation) {
                warn!("cannot persist the generation of {}: {e}", msg.src);
            }
        }
        if previous_generation.is_some_and(|g| g < msg.generation) {
            actions.extend(self.cluster.on_restart(&msg.src));
        }
        actions.extend(self.on_message(&msg));
        actions
    }

    /// Acts on the content of a fresh message.
    fn on_message(&mut self, msg: &Message) -> Vec<Action> {
        match ClusterMessage::decode(msg) {
            Ok(ClusterMessage::Status(a)) => {
                self.seen_alive.insert(msg.src.clone(), msg.generation);
                self.cluster.on_announcement(&msg.src, a)
            }
            Ok(ClusterMessage::Shutdown) if self.seen_alive.get(&msg.src) == Some(&msg.generation) => {
                self.cluster.on_shutdown_notice(&msg.src)
            }
            Ok(ClusterMessage::Shutdown) => {
                DropCounters::bump(&self.dropped.replayed);
                warn!(
                    "Ignoring shutdown notice from {} (generation {}): that generation was not heard alive in this run",
                    msg.src, msg.generation
                );
                Vec::new()
            }
            Ok(ClusterMessage::Takeover(set)) if !self.shutting_down => {
                info!("{} asks to take over [{set}]", msg.src);
                self.cluster.go_standby(set.mirrored())
            }
            Ok(ClusterMessage::Takeover(_)) | Err(DecodeError::BadTakeover) => Vec::new(),
            Err(DecodeError::BadStatus) => {
                DropCounters::bump(&self.dropped.malformed);
                Vec::new()
            }
            Err(DecodeError::UnknownKind(other)) => {
                debug!("message type [{other}] from {} ignored", msg.src);
                Vec::new()
            }
        }
    }
}
