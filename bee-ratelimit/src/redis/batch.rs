//! Batching: decisions of concurrent callers sent to Redis in one script call.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Link, limit_args};
use crate::policy::Policy;

/// Batches out at once per store. While they are out, new decisions queue up and leave
/// together in the next one; when Redis is idle, a decision leaves at once, alone.
const IN_FLIGHT: usize = 4;

/// Decisions waiting to be sent, at most; callers beyond it wait for room.
const QUEUE: usize = 4096;

/// Hands decisions to a task that sends them to Redis in batches.
#[derive(Debug)]
pub(super) struct Batcher {
    jobs: mpsc::Sender<Job>,
    /// The longest a caller waits for its answer: a queue turn and a call.
    wait: Duration,
}

/// One caller's decision, waiting for its batch.
struct Job {
    name: String,
    policy: Policy,
    cost: u64,
    answer: oneshot::Sender<Option<Vec<u8>>>,
}

impl Batcher {
    /// Starts the sending task on the current Tokio runtime; it ends when the batcher is
    /// dropped.
    pub(super) fn start(link: &Arc<Link>, max: usize) -> Batcher {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(send_batches(Arc::clone(link), queue, max));
        Batcher {
            jobs,
            wait: link.timeout.saturating_mul(2),
        }
    }

    /// The script's reply for the caller whose state is `name`, or `None` when Redis
    /// could not decide (unreachable, timed out, or the sending task is gone).
    pub(super) async fn decide(&self, name: String, policy: &Policy, cost: u64) -> Option<Vec<u8>> {
        let (answer, reply) = oneshot::channel();
        let job = Job {
            name,
            policy: policy.clone(),
            cost,
            answer,
        };
        let asked = async {
            self.jobs.send(job).await.ok()?;
            reply.await.ok().flatten()
        };
        tokio::time::timeout(self.wait, asked).await.ok().flatten()
    }
}

async fn send_batches(link: Arc<Link>, mut queue: mpsc::Receiver<Job>, max: usize) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut batch = Vec::with_capacity(max);
    loop {
        // A free slot first: while every slot is taken, callers queue up behind it.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        if queue.recv_many(&mut batch, max).await == 0 {
            return;
        }
        let jobs = std::mem::replace(&mut batch, Vec::with_capacity(max));
        let link = Arc::clone(&link);
        tokio::spawn(async move {
            decide_all(&link, jobs).await;
            drop(slot);
        });
    }
}

/// One `EVALSHA` for every job: each caller's tiers are decided atomically, one caller
/// after another, on one reading of Redis's clock.
async fn decide_all(link: &Link, jobs: Vec<Job>) {
    let jobs = still_waiting(jobs);
    if jobs.is_empty() {
        return;
    }
    let mut cmd = link.scripts.limits.command(jobs.len());
    for job in &jobs {
        cmd.arg(&job.name);
    }
    for job in &jobs {
        limit_args(&mut cmd, &job.policy, job.cost);
    }
    let replies = link
        .call::<Vec<Vec<u8>>>(&link.scripts.limits, &cmd)
        .await
        .filter(|replies| replies.len() == jobs.len());
    match replies {
        Some(replies) => {
            for (job, reply) in jobs.into_iter().zip(replies) {
                // A caller that stopped waiting has nothing to be told.
                let _ = job.answer.send(Some(reply));
            }
        }
        None => {
            for job in jobs {
                let _ = job.answer.send(None);
            }
        }
    }
}

/// The jobs whose callers still wait. A caller that gave up (its wait ran out while the
/// job queued) has already been answered by the unreachable policy: deciding its job in
/// Redis too would count a request twice, and under load would spend Redis on answers
/// nobody reads.
fn still_waiting(jobs: Vec<Job>) -> Vec<Job> {
    jobs.into_iter()
        .filter(|job| !job.answer.is_closed())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_whose_callers_gave_up_are_not_sent() {
        let policy = Policy::default();
        let mut replies = Vec::new();
        let jobs: Vec<Job> = (0..4)
            .map(|i| {
                let (answer, reply) = oneshot::channel();
                if i % 2 == 0 {
                    replies.push(reply);
                }
                Job {
                    name: format!("k{i}"),
                    policy: policy.clone(),
                    cost: 1,
                    answer,
                }
            })
            .collect();
        let names: Vec<String> = still_waiting(jobs).into_iter().map(|j| j.name).collect();
        assert_eq!(names, ["k0", "k2"]);
        drop(replies);
    }
}
