//! Carrying out control commands (see [`super::control`]).

use tracing::info;

use crate::membership::cluster_message::ClusterMessage;

use super::cluster::Action;
use super::control::{ControlCommand, ControlReply};
use super::event_loop::Node;
use super::media::Media;
use super::report;

impl Node {
    /// The reply to `command` and what the cluster does about it.
    pub(super) fn control(&mut self, command: ControlCommand, media: &mut Media) -> (ControlReply, Vec<Action>) {
        let answer = |text: String| ControlReply::Answer(text);
        match command {
            ControlCommand::Pid => (answer(format!("{}\n", std::process::id())), Vec::new()),
            ControlCommand::Status => (answer(report::status(self)), Vec::new()),
            ControlCommand::Nodes => (answer(report::nodes(self)), Vec::new()),
            ControlCommand::Stop => (answer("stopping\n".into()), self.begin_shutdown()),
            ControlCommand::Standby(_) | ControlCommand::Takeover(_) if self.shutting_down => {
                (ControlReply::Error("shutdown in progress".into()), Vec::new())
            }
            ControlCommand::Standby(set) => {
                (answer(format!("standby [{set}] requested\n")), self.cluster.go_standby(set))
            }
            ControlCommand::Takeover(set) => {
                info!("{} asks to take over [{set}]", self.options.node);
                self.send(&ClusterMessage::Takeover(set), media);
                (answer(format!("takeover [{set}] requested\n")), self.cluster.leave_standby())
            }
        }
    }
}
