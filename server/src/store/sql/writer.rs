//! Group commit: one task per store owns the write path for hot operations.
//!
//! With `synchronous=FULL` every commit is an fsync, so committing each message on
//! its own would cap throughput at the disk's fsync rate. Instead, every append and
//! read marker is queued here; the task takes everything that queued up while the
//! previous commit ran (up to [`MAX_BATCH`]; with a commit delay, small batches of
//! frequent arrivals may wait briefly for more, `pacing.rs`) and commits it in one transaction. Each
//! caller still gets its own answer only after *its* transaction committed; answers
//! and commit hooks run on a follower task in commit order, overlapping the next commit.
//!
//! If a batch fails as a whole (e.g. a PostgreSQL serialization or deadlock error),
//! every job is retried in a transaction of its own so one bad job cannot fail others.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::pacing::{CommitDelay, Pacing};
use crate::observability::{COMMIT_TO_FANOUT, STORE_COMMIT, record_latency};

use crate::store::{AppendRequest, Appended, CommitHook, ReadMarker, StoreError, WriteError};

/// Jobs per transaction. Bounded so one commit never holds the write lock for long.
pub(crate) const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer. Senders wait (backpressure) when it is full.
pub(crate) const QUEUE: usize = 8192;

#[derive(Clone, Debug)]
pub(crate) enum WriteOp {
    Append(AppendRequest),
    Read(ReadMarker),
    UpsertAccount {
        id: String,
        name: String,
        roles: String,
        now: i64,
    },
}

impl WriteOp {
    /// Lock order key: jobs are committed sorted (stably) by conversation so two nodes'
    /// batches always lock conversation rows in the same order.
    fn order_key(&self) -> &str {
        match self {
            WriteOp::Append(a) => a.conversation.as_str(),
            WriteOp::Read(r) => r.conversation.as_str(),
            WriteOp::UpsertAccount { .. } => "",
        }
    }
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Appended(Result<Appended, WriteError>),
    Read(Result<bool, WriteError>),
    Account(Result<(), WriteError>),
}

pub(crate) struct WriteJob {
    pub op: WriteOp,
    pub reply: oneshot::Sender<Outcome>,
    pub on_commit: Option<CommitHook>,
}

impl WriteJob {
    /// Runs the commit hook (for a fresh append) and answers the caller.
    fn finish(self, outcome: Outcome, committed_at: Instant) {
        if let (Some(hook), Outcome::Appended(Ok(appended))) = (self.on_commit, &outcome)
            && !appended.duplicate
        {
            // The hook acknowledges, publishes and fans out to local readers.
            hook(appended);
            record_latency(COMMIT_TO_FANOUT, committed_at.elapsed());
        }
        let _ = self.reply.send(outcome);
    }
}

/// What the engine-specific code provides: commit these ops in one transaction and
/// return one outcome per op, in order. Job-level refusals are outcomes; `Err` means
/// the transaction itself failed and nothing was committed.
pub(crate) trait BatchCommit: Send + Sync + 'static {
    fn commit(
        &self,
        ops: &[WriteOp],
    ) -> impl Future<Output = Result<Vec<Outcome>, StoreError>> + Send;
}

/// What the store shares with its writer task.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriterShared {
    /// The commit delay, settable while the writer runs.
    pub delay: CommitDelay,
    /// Batches committed so far (the WAL checkpointer looks for new ones).
    pub commits: Arc<AtomicU64>,
}

/// Committed batches waiting for their answers and hooks. Small: if the follower falls
/// behind, the writer waits rather than piling up answered-but-unsent batches.
const FINISH_QUEUE: usize = 4;

pub(crate) async fn run<C: BatchCommit>(
    committer: C,
    mut jobs: mpsc::Receiver<WriteJob>,
    shared: WriterShared,
) {
    // Answers and commit hooks (acks, event serialisation, fan-out) run on a follower
    // task, strictly in commit order, so the next commit starts while they run.
    let (finished, mut to_finish) =
        mpsc::channel::<(Instant, Vec<(WriteJob, Outcome)>)>(FINISH_QUEUE);
    tokio::spawn(async move {
        while let Some((committed_at, done)) = to_finish.recv().await {
            for (job, outcome) in done {
                job.finish(outcome, committed_at);
            }
        }
    });
    let mut pacing = Pacing::new(shared.delay);
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        let gathering = tokio::time::Instant::now();
        batch.push(first);
        take_queued(&mut jobs, &mut batch);
        if let Some(until) = pacing.hold_until(gathering, batch.len()) {
            while !Pacing::full(batch.len()) {
                match tokio::time::timeout_at(until, jobs.recv()).await {
                    Ok(Some(job)) => {
                        batch.push(job);
                        take_queued(&mut jobs, &mut batch);
                    }
                    // The delay is over, or every sender is gone: commit what is here.
                    Ok(None) | Err(_) => break,
                }
            }
        }
        pacing.committing(batch.len());
        batch.sort_by(|a, b| a.op.order_key().cmp(b.op.order_key()));
        metrics::histogram!("mentorhub_store_batch_size").record(batch.len() as f64);
        let ops: Vec<WriteOp> = batch.iter().map(|job| job.op.clone()).collect();
        let started = Instant::now();
        let committed = committer.commit(&ops).await;
        let committed_at = Instant::now();
        record_latency(STORE_COMMIT, committed_at - started);
        match committed {
            Ok(outcomes) => {
                shared.commits.fetch_add(1, Ordering::Relaxed);
                let done = batch.drain(..).zip(outcomes).collect();
                if finished.send((committed_at, done)).await.is_err() {
                    return;
                }
            }
            Err(batch_error) => {
                tracing::warn!(error = %batch_error, jobs = batch.len(), "batch commit failed; retrying jobs one by one");
                for job in batch.drain(..) {
                    let single = std::slice::from_ref(&job.op);
                    let started = Instant::now();
                    let committed = committer.commit(single).await;
                    let committed_at = Instant::now();
                    record_latency(STORE_COMMIT, committed_at - started);
                    let outcome = match committed {
                        Ok(mut outcomes) => outcomes.pop(),
                        Err(error) => Some(failed(&job.op, error)),
                    };
                    if let Some(outcome) = outcome
                        && finished
                            .send((committed_at, vec![(job, outcome)]))
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// Adds what is already queued, up to [`MAX_BATCH`], without waiting.
fn take_queued(jobs: &mut mpsc::Receiver<WriteJob>, batch: &mut Vec<WriteJob>) {
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

fn failed(op: &WriteOp, error: StoreError) -> Outcome {
    match op {
        WriteOp::Append(_) => Outcome::Appended(Err(error.into())),
        WriteOp::Read(_) => Outcome::Read(Err(error.into())),
        WriteOp::UpsertAccount { .. } => Outcome::Account(Err(error.into())),
    }
}

/// Queues one op and waits for its committed outcome.
pub(crate) async fn submit(
    jobs: &mpsc::Sender<WriteJob>,
    op: WriteOp,
    on_commit: Option<CommitHook>,
) -> Result<Outcome, StoreError> {
    answer(enqueue(jobs, op, on_commit).await?).await
}

/// Queues one op (waiting while the queue is full; waiters are served in order) and
/// returns where its outcome will arrive.
pub(crate) async fn enqueue(
    jobs: &mpsc::Sender<WriteJob>,
    op: WriteOp,
    on_commit: Option<CommitHook>,
) -> Result<oneshot::Receiver<Outcome>, StoreError> {
    let (reply, answer) = oneshot::channel();
    jobs.send(WriteJob {
        op,
        reply,
        on_commit,
    })
    .await
    .map_err(|_| StoreError::Unavailable("store writer stopped".into()))?;
    Ok(answer)
}

pub(crate) async fn answer(answer: oneshot::Receiver<Outcome>) -> Result<Outcome, StoreError> {
    answer
        .await
        .map_err(|_| StoreError::Unavailable("store writer stopped".into()))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Commits anything, recording each batch's size.
    #[derive(Clone, Default)]
    struct CountingCommitter(Arc<Mutex<Vec<usize>>>);

    impl BatchCommit for CountingCommitter {
        async fn commit(&self, ops: &[WriteOp]) -> Result<Vec<Outcome>, StoreError> {
            self.0.lock().unwrap().push(ops.len());
            Ok(ops.iter().map(|_| Outcome::Account(Ok(()))).collect())
        }
    }

    fn account(n: u32) -> WriteOp {
        WriteOp::UpsertAccount {
            id: format!("a{n}"),
            name: String::new(),
            roles: String::new(),
            now: 0,
        }
    }

    /// A writer with `delay`; returns its queue and the batch sizes it committed.
    fn writer(delay: Duration) -> (mpsc::Sender<WriteJob>, Arc<Mutex<Vec<usize>>>) {
        let committer = CountingCommitter::default();
        let batches = committer.0.clone();
        let shared = WriterShared::default();
        shared.delay.set(delay);
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(committer, queue, shared));
        (jobs, batches)
    }

    #[tokio::test(start_paused = true)]
    async fn frequent_arrivals_share_a_commit_within_the_delay() {
        let (jobs, batches) = writer(Duration::from_millis(1));
        submit(&jobs, account(1), None).await.unwrap();
        let second = enqueue(&jobs, account(2), None).await.unwrap();
        tokio::time::sleep(Duration::from_micros(300)).await;
        let third = enqueue(&jobs, account(3), None).await.unwrap();
        let before = tokio::time::Instant::now();
        answer(second).await.unwrap();
        answer(third).await.unwrap();
        assert_eq!(
            *batches.lock().unwrap(),
            vec![1, 2],
            "the later two in one commit"
        );
        assert!(
            before.elapsed() <= Duration::from_millis(1),
            "never past the delay"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_after_a_quiet_spell_commits_at_once() {
        let (jobs, batches) = writer(Duration::from_millis(1));
        submit(&jobs, account(1), None).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sent = tokio::time::Instant::now();
        submit(&jobs, account(2), None).await.unwrap();
        assert_eq!(sent.elapsed(), Duration::ZERO, "no wait for company");
        assert_eq!(*batches.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_delay_each_arrival_commits_alone() {
        let (jobs, batches) = writer(Duration::ZERO);
        for n in 0..3 {
            submit(&jobs, account(n), None).await.unwrap();
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        assert_eq!(*batches.lock().unwrap(), vec![1, 1, 1]);
    }
}
