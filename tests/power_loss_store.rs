//! Power loss under the whole item store, simulated through the storage
//! seam as in `power_loss.rs`: seeded workloads of puts, batches, datasets,
//! deletes, checkpoints and compactions run on a [`MemoryStorage`] until
//! the power is cut after their Nth mutation, for every N; each cut gives
//! several crash images. Each must open, answer as a model of the
//! operations whose batch survived (every acknowledged one, in
//! `SyncMode::Always`), take writes again, and open again.
//!
//! `RECSTORE_POWER_LOSS_STORE_STATES` raises the number of crash states
//! (default 10,000; the log-level test checks 20,000 more); the count is printed.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Rng, TestResult, crash_points};
use recstore::compaction::Policy;
use recstore::storage::MemoryStorage;
use recstore::{Data, Error, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

const DATA_DIR: &str = "/power/store";
const STATES_DEFAULT: usize = 10_000;

/// One operation of a workload.
#[derive(Debug, Clone)]
enum Op {
    Put { id: String, value: Value },
    Batch(Vec<(String, Value)>),
    Dataset { name: String, items: Vec<(String, Value)> },
    Delete { id: String },
    Checkpoint,
    Compact,
}

/// An operation, and the offset the log was at when it began: its batch
/// survived a crash if the log reaches past that offset.
#[derive(Debug)]
struct Attempt {
    start_offset: u64,
    op: Op,
    acknowledged: bool,
}

fn options(storage: &MemoryStorage) -> StoreOptions {
    StoreOptions::default()
        .sync(SyncMode::Always)
        .segment_size_bytes(4096)
        .checkpoint_interval_records(0)
        .storage(Arc::new(storage.clone()))
}

fn item(id: &str, value: &Value) -> NewItem {
    NewItem { data: Data::Json(value.clone()), metadata: Metadata { id: Some(id.into()), ..Metadata::default() } }
}

/// The seeded workload: ids are never written again once deleted.
fn plan(seed: u64) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let mut live: Vec<String> = Vec::new();
    let mut fresh = 0;
    let mut new_id = |live: &mut Vec<String>| {
        fresh += 1;
        let id = format!("item-{fresh}");
        live.push(id.clone());
        id
    };
    let value = |rng: &mut Rng, n: usize| json!({"n": n, "pad": "p".repeat(rng.below(300) as usize)});
    let mut ops = Vec::new();
    for n in 0..24 {
        let op = match rng.below(10) {
            0 if !live.is_empty() => Op::Delete { id: live.remove(rng.below(live.len() as u64) as usize) },
            1 => Op::Checkpoint,
            2 => Op::Compact,
            3 => Op::Batch((0..2).map(|k| (new_id(&mut live), value(&mut rng, n * 10 + k))).collect()),
            4 => Op::Dataset { name: format!("set-{n}"), items: vec![(new_id(&mut live), value(&mut rng, n))] },
            _ if !live.is_empty() && rng.chance(1, 2) => {
                Op::Put { id: live[rng.below(live.len() as u64) as usize].clone(), value: value(&mut rng, n) }
            }
            _ => Op::Put { id: new_id(&mut live), value: value(&mut rng, n) },
        };
        ops.push(op);
    }
    ops
}

fn apply(store: &Store, op: &Op) -> Result<(), Error> {
    match op {
        Op::Put { id, value } => store.put(Data::Json(value.clone()), item(id, value).metadata).map(drop),
        Op::Batch(items) => store.put_batch(items.iter().map(|(id, v)| item(id, v)).collect()).map(drop),
        Op::Dataset { name, items } => {
            store.put_dataset(name, items.iter().map(|(id, v)| item(id, v)).collect(), json!({})).map(drop)
        }
        Op::Delete { id } => store.delete(id).map(drop),
        Op::Checkpoint => store.checkpoint(),
        Op::Compact => store.compact(Policy::keep_everything().max_versions(Some(2))).map(drop),
    }
}

/// Runs the workload until it ends or the storage refuses a write.
fn run(storage: &MemoryStorage, ops: &[Op]) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let Ok(store) = Store::open(DATA_DIR, options(storage)) else { return attempts };
    for op in ops {
        let start_offset = store.log().next_offset();
        let acknowledged = apply(&store, op).is_ok();
        attempts.push(Attempt { start_offset, op: op.clone(), acknowledged });
        if !acknowledged {
            break;
        }
    }
    attempts
}

/// What the store must answer: each id's versions (and whether it is
/// deleted), and each dataset's members.
#[derive(Debug, Default)]
struct Model {
    items: BTreeMap<String, (Vec<Value>, bool)>,
    datasets: BTreeMap<String, Vec<(String, u32)>>,
}

impl Model {
    fn put(&mut self, id: &str, value: &Value) -> u32 {
        let (versions, _) = self.items.entry(id.to_string()).or_default();
        versions.push(value.clone());
        versions.len() as u32
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Put { id, value } => {
                self.put(id, value);
            }
            Op::Batch(items) => {
                for (id, value) in items {
                    self.put(id, value);
                }
            }
            Op::Dataset { name, items } => {
                let members = items.iter().map(|(id, value)| (id.clone(), self.put(id, value))).collect();
                self.datasets.insert(name.clone(), members);
            }
            Op::Delete { id } => self.items.entry(id.clone()).or_default().1 = true,
            Op::Checkpoint | Op::Compact => {}
        }
    }
}

/// The operations whose batch lies below the log's end after the crash.
fn survivors<'a>(attempts: &'a [Attempt], next_offset: u64, label: &str) -> Vec<&'a Op> {
    for attempt in attempts.iter().filter(|a| a.acknowledged && !matches!(a.op, Op::Checkpoint | Op::Compact)) {
        assert!(attempt.start_offset < next_offset, "{label}: acknowledged {:?} lost", attempt.op);
    }
    let writes = attempts.iter().filter(|a| !matches!(a.op, Op::Checkpoint | Op::Compact));
    writes.filter(|a| a.start_offset < next_offset).map(|a| &a.op).collect()
}

fn check_answers(store: &Store, model: &Model, label: &str) -> TestResult {
    for (id, (versions, deleted)) in &model.items {
        match store.get(id) {
            Err(Error::Deleted { .. }) if *deleted => {}
            Ok(found) if !*deleted => {
                assert_eq!(found.version as usize, versions.len(), "{label}: version of {id}");
                assert_eq!(&found.json()?, versions.last().ok_or("a version")?, "{label}: data of {id}");
            }
            other => panic!("{label}: {id} (deleted: {deleted}) answered {other:?}"),
        }
    }
    for (name, members) in &model.datasets {
        assert_eq!(&store.get_dataset(name, None)?.members, members, "{label}: dataset {name}");
    }
    Ok(())
}

fn check_image(image: &MemoryStorage, attempts: &[Attempt], label: &str) -> TestResult {
    let store = Store::open(DATA_DIR, options(image)).map_err(|e| format!("{label}: open: {e}"))?;
    let mut model = Model::default();
    for op in survivors(attempts, store.log().next_offset(), label) {
        model.apply(op);
    }
    check_answers(&store, &model, label)?;
    let after = store.put(Data::Json(json!("after the crash")), item("after", &json!(null)).metadata)?;
    store.close()?;
    let reopened = Store::open(DATA_DIR, options(image))?;
    check_answers(&reopened, &model, label)?;
    assert_eq!(reopened.get("after")?.version, after.version, "{label}");
    Ok(())
}

/// Crash images of one cut: nothing unsynced kept, everything kept, random sectors.
fn images(storage: &MemoryStorage, rng: &mut Rng) -> Vec<MemoryStorage> {
    let mut draw = Rng::new(rng.next_u64());
    vec![storage.crash_image(|| false), storage.crash_image(|| true), storage.crash_image(|| draw.chance(1, 2))]
}

fn crash_every_point(seed: u64, budget: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let ops = plan(seed);
    let whole = MemoryStorage::default();
    run(&whole, &ops);
    let total = whole.ops().len();
    let mut rng = Rng::new(seed ^ 0xC0FFEE);
    let mut states = 0;
    for cut in crash_points(&whole.ops()) {
        if states >= budget {
            break;
        }
        let storage = MemoryStorage::default();
        storage.cut_power_after(cut);
        let attempts = run(&storage, &ops);
        for (number, image) in images(&storage, &mut rng).iter().enumerate() {
            check_image(image, &attempts, &format!("seed {seed} cut after op {cut} of {total} image {number}"))?;
            states += 1;
        }
    }
    Ok(states)
}

#[test]
fn every_crash_state_of_the_store_answers_as_the_surviving_operations() -> TestResult {
    let target: usize = match std::env::var("RECSTORE_POWER_LOSS_STORE_STATES") {
        Ok(text) => text.parse()?,
        Err(_) => STATES_DEFAULT,
    };
    let (mut states, mut seed) = (0, 1);
    while states < target {
        states += crash_every_point(seed, target - states)?;
        seed += 1;
    }
    println!("store power loss: {states} crash states checked over {} workloads", seed - 1);
    Ok(())
}
