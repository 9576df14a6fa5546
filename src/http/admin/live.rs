//! The live counts of an admin answer (a user's connections, the stats, a broadcast's
//! `delivered`): this node's from its memory, the other nodes' as they keep them in Redis,
//! read at the time of the request. Without Redis the answer cannot be the cluster's: 503.

use std::collections::HashMap;

use crate::cluster::live::LiveCounts;
use crate::error::ProtoError;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::model::UserId;

/// Every node's live connections, now.
pub async fn counts(state: &AppState) -> Result<LiveCounts, ApiError> {
    let here: HashMap<UserId, u64> = state
        .presence
        .snapshot()
        .into_iter()
        .map(|(user, count)| (user, count as u64))
        .collect();
    let others = match &state.bus {
        None => HashMap::new(),
        Some(bus) => {
            let mut nodes = bus.connection_counts().await.map_err(|err| {
                ProtoError::unavailable(format!(
                    "the other nodes' live counts cannot be read from Redis ({err}); retry"
                ))
            })?;
            nodes.remove(bus.node());
            nodes
        }
    };
    Ok(LiveCounts::new(here, others))
}
