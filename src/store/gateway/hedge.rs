//! One CAR request raced across gateways: hedged on slowness, not only on
//! failure.
//!
//! Waiting for a slow gateway's own deadline before asking the next costs
//! a build that deadline once per request, and the parallel downloads of a
//! fetch all meet it at the same moment. So a CAR stream is a race of
//! *legs*, one response each ([`SingleCar`]): the first gateway is asked;
//! a leg that fails starts the next gateway at once; and when every leg
//! running is behind its pace, the next gateway is asked too, in parallel.
//! A leg is behind once [`ClientOptions::car_hedge`] has passed since it
//! was asked and it has not sent, from then on, its time past that at
//! [`HEDGE_RATE`]: so a gateway that trickles, or that takes long to start,
//! is raced after a second, while an honest gateway streaming a large
//! artifact at a normal rate is never raced at all.
//!
//! Every leg's blocks are verified and checked to belong to the DAG, so the
//! stream hands on the blocks of every leg as they come (a block may come
//! twice; the store keeps one), and ends with the first leg that ends
//! complete. The other legs are then dropped, which closes their
//! connections. A leg that lost while behind its pace leaves its gateway
//! marked as behind (`health.rs`: asked after the others by later
//! requests), never as failing: only a leg's own failure (a timeout, its
//! size's deadline, junk) remembers a gateway as failing, so an honest
//! gateway that a faster one beat is not skipped.
//!
//! [`ClientOptions::car_hedge`]: super::ClientOptions::car_hedge

use super::car::{paced_deadline, SingleCar, HEDGE_RATE};
use super::error::{RemoteError, Target};
use super::{DagScope, Inner};
use crate::formats::block::Block;
use cid::Cid;
use futures::future::{select, select_all, Either};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// A request to one gateway whose answer has not begun.
type Opening = Pin<Box<dyn Future<Output = Result<SingleCar, RemoteError>> + Send>>;

enum State {
    Opening(Opening),
    Streaming(Box<SingleCar>),
}

/// One gateway's response within the race.
struct Leg {
    gateway: String,
    /// When its request was made.
    asked: Instant,
    state: State,
}

/// What one leg did.
enum Step {
    Opened(Box<SingleCar>),
    Block(Block),
    Ended,
    Failed(RemoteError),
}

impl Leg {
    fn bytes(&self) -> u64 {
        match &self.state {
            State::Streaming(car) => car.bytes_read(),
            State::Opening(_) => 0,
        }
    }

    /// When the leg is behind its pace unless more bytes come: `after` past
    /// its request, plus its bytes so far at [`HEDGE_RATE`].
    fn behind_at(&self, after: Duration) -> Instant {
        self.asked + after + Duration::from_secs_f64(self.bytes() as f64 / HEDGE_RATE as f64)
    }

    /// Waits for the leg's next step. Cancel-safe: the request and the body
    /// live in the leg, not in this future.
    async fn step(&mut self) -> Step {
        match &mut self.state {
            State::Opening(open) => match open.as_mut().await {
                Ok(car) => Step::Opened(Box::new(car)),
                Err(e) => Step::Failed(e),
            },
            State::Streaming(car) => match car.next().await {
                Some(Ok(block)) => Step::Block(block),
                Some(Err(e)) => Step::Failed(e),
                None => Step::Ended,
            },
        }
    }
}

/// Where the further legs of a stream come from.
struct Hedge {
    inner: Arc<Inner>,
    scope: DagScope,
    /// The size the stream is paced by, if known.
    size: Option<u64>,
    /// The gateways not asked yet, in order.
    order: VecDeque<usize>,
}

/// What the race came to next.
enum Event {
    Opened,
    Block(Block),
    Ended,
    Failed(RemoteError),
}

/// Verified blocks of one DAG from one or more gateways raced (see the
/// module docs), or from one source (a kubo node's `dag/export`). After an
/// error, or once one leg ended complete, the stream ends. Dropping it
/// cancels every download.
///
/// The bodies are parsed where [`CarStream::next`] is awaited: from
/// blocking code (see [`crate::store::RemoteStore::get_car`]) that is the
/// caller's own thread, so parallel downloads hash on as many threads.
/// Memory stays bounded by that of one response's stream per gateway.
pub struct CarStream {
    legs: Vec<Leg>,
    hedge: Option<Hedge>,
    target: Target,
    root: Cid,
    /// The gateway of the last block handed on (or of the first answer).
    gateway: String,
    /// Its bytes read when it handed that block on.
    bytes_read: u64,
    yielded: bool,
    errors: Vec<RemoteError>,
    done: bool,
}

impl CarStream {
    /// A stream of `target` raced over the gateways `order` of `inner`,
    /// paced by `size` when known. Nothing is asked until it is awaited.
    pub(super) fn hedged(
        inner: Arc<Inner>,
        target: Target,
        scope: DagScope,
        size: Option<u64>,
        order: Vec<usize>,
    ) -> Self {
        let Some((root, _)) = target.car_root() else { unreachable!("CAR targets only") };
        let hedge = Hedge { inner, scope, size, order: order.into() };
        CarStream {
            legs: Vec::new(),
            hedge: Some(hedge),
            target,
            root,
            gateway: String::new(),
            bytes_read: 0,
            yielded: false,
            errors: Vec::new(),
            done: false,
        }
    }

    /// Starts reading the CAR of the whole DAG under `root`, in any block
    /// order, that `source` (a name for messages) sends as `body`; each
    /// chunk may take `idle`.
    pub(crate) fn of_dag(body: super::car::Body, source: String, root: Cid, idle: Duration) -> Self {
        let car = SingleCar::of_dag(body, source.clone(), root, idle);
        let leg = Leg { gateway: source.clone(), asked: Instant::now(), state: State::Streaming(Box::new(car)) };
        CarStream {
            legs: vec![leg],
            hedge: None,
            target: Target::Car(root),
            root,
            gateway: source,
            bytes_read: 0,
            yielded: false,
            errors: Vec::new(),
            done: false,
        }
    }

    /// Waits until some gateway answers with a CAR; `Err` when every one
    /// failed to.
    pub(super) async fn open(&mut self) -> Result<(), RemoteError> {
        match self.event().await {
            Event::Opened => Ok(()),
            Event::Failed(e) => {
                self.done = true;
                Err(e)
            }
            Event::Block(_) | Event::Ended => unreachable!("no leg streams before one has opened"),
        }
    }

    /// The gateway that sent the last block handed on (before the first,
    /// the first that answered).
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// The root asked for.
    pub fn root(&self) -> &Cid {
        &self.root
    }

    /// Bytes of the body read so far from the gateway that sent the last
    /// block handed on, blocks dropped as duplicates or outside the DAG
    /// included.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next verified block, an error (after which the stream ends), or
    /// `None` when one leg ended complete.
    pub async fn next(&mut self) -> Option<Result<Block, RemoteError>> {
        if self.done {
            return None;
        }
        loop {
            match self.event().await {
                Event::Opened => {}
                Event::Block(block) => return Some(Ok(block)),
                Event::Ended => {
                    self.done = true;
                    return None;
                }
                Event::Failed(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Asks the next gateway not remembered as failing by now (an earlier
    /// leg, or a request running beside this one, may have found it so).
    /// `false` when none is left.
    fn ask_next(&mut self) -> bool {
        let Some(hedge) = &mut self.hedge else { return false };
        while let Some(i) = hedge.order.pop_front() {
            let gateway = hedge.inner.gateways[i].label.clone();
            if let Some(why) = hedge.inner.health.avoided(&gateway) {
                self.errors.push(RemoteError::Avoided { target: self.target.clone(), gateways: vec![(gateway, why)] });
                continue;
            }
            let (inner, target, scope) = (Arc::clone(&hedge.inner), self.target.clone(), hedge.scope);
            let asked = Instant::now();
            let limit = inner.options.first_byte.min(inner.options.timeout);
            let deadline = hedge.size.map(|size| paced_deadline(asked, limit, size));
            // A leg that races others draws from a pool of its own: the
            // legs it races may hold every permit of the client's.
            let racing = !self.legs.is_empty();
            let open: Opening = Box::pin(async move {
                let permits = if racing { &inner.hedge_permits } else { &inner.permits };
                let request = |permit| inner.car(i, &target, scope, permit, deadline);
                inner.retrying_in(permits, i, &target, limit, request).await
            });
            self.legs.push(Leg { gateway, asked, state: State::Opening(open) });
            return true;
        }
        false
    }

    /// Runs the race until something happens that the caller sees.
    async fn event(&mut self) -> Event {
        loop {
            let after = self.hedge.as_ref().map(|h| h.inner.options.car_hedge);
            let now = Instant::now();
            let all_behind = after.is_some_and(|after| self.legs.iter().all(|leg| leg.behind_at(after) <= now));
            if (self.legs.is_empty() || all_behind) && !self.ask_next() && self.legs.is_empty() {
                let errors = std::mem::take(&mut self.errors);
                return Event::Failed(RemoteError::combine(self.target.clone(), errors));
            }
            // When every leg will be behind, if a gateway is left to ask then.
            let more = self.hedge.as_ref().is_some_and(|h| !h.order.is_empty());
            let wake = after.filter(|_| more).and_then(|after| self.legs.iter().map(|l| l.behind_at(after)).max());
            let (i, step) = {
                let steps = select_all(
                    self.legs.iter_mut().enumerate().map(|(i, leg)| Box::pin(async move { (i, leg.step().await) })),
                );
                match wake {
                    Some(at) => match select(steps, Box::pin(sleep_until(at))).await {
                        Either::Left(((out, _, _), _)) => out,
                        Either::Right(_) => continue,
                    },
                    None => steps.await.0,
                }
            };
            match step {
                Step::Opened(car) => {
                    if !self.yielded && self.gateway.is_empty() {
                        self.gateway = self.legs[i].gateway.clone();
                    }
                    self.legs[i].state = State::Streaming(car);
                    return Event::Opened;
                }
                Step::Block(block) => {
                    self.gateway = self.legs[i].gateway.clone();
                    self.bytes_read = self.legs[i].bytes();
                    self.yielded = true;
                    return Event::Block(block);
                }
                Step::Ended => {
                    let winner = self.legs.swap_remove(i);
                    self.gateway = winner.gateway;
                    self.abandon_losers();
                    return Event::Ended;
                }
                Step::Failed(e) => {
                    let leg = self.legs.remove(i);
                    tracing::debug!(gateway = %leg.gateway, error = %e, "CAR request failed");
                    self.errors.push(e);
                }
            }
        }
    }

    /// Drops the legs still running once one ended complete; those behind
    /// their pace leave their gateway marked as behind.
    fn abandon_losers(&mut self) {
        let Some(hedge) = &self.hedge else { return };
        let now = Instant::now();
        for leg in self.legs.drain(..) {
            if leg.behind_at(hedge.inner.options.car_hedge) <= now {
                let why = format!("behind the pace of {} KiB/s on {}", HEDGE_RATE / 1024, self.target);
                hedge.inner.health.fell_behind(&leg.gateway, &why);
            }
        }
    }
}

impl std::fmt::Debug for CarStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarStream")
            .field("gateway", &self.gateway)
            .field("root", &self.root)
            .field("legs", &self.legs.len())
            .finish()
    }
}
