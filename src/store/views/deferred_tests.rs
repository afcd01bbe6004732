//! A replay with deferred indices ends with the indices that applying the
//! same records one by one keeps.

use proptest::collection::vec;
use proptest::prelude::*;
use roaring::RoaringBitmap;

use super::{ByAttribute, Views};
use crate::log::RecordRef;
use crate::records::codec::{self, DataKind, DeleteRecord, PutDraft, kind};

/// One record: a put of item `id` with a type, a source and tags (each an
/// index into a small set of names, `None` where absent), or a delete.
#[derive(Debug, Clone)]
enum Step {
    Put { id: u8, item_type: Option<u8>, source: Option<u8>, tags: Vec<u8> },
    Delete { id: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..12u8, proptest::option::of(0..3u8), proptest::option::of(0..4u8), vec(0..5u8, 0..4))
            .prop_map(|(id, item_type, source, tags)| Step::Put { id, item_type, source, tags }),
        1 => (0..12u8).prop_map(|id| Step::Delete { id }),
    ]
}

/// The records of `steps`, as (kind, payload); deletes of items that are
/// not live and versions are worked out here, as the writer would.
fn records(steps: &[Step]) -> Vec<(u8, Vec<u8>)> {
    let mut versions = [0u32; 12];
    let mut live = [false; 12];
    let mut records = Vec::new();
    for step in steps {
        match step {
            Step::Put { id, item_type, source, tags } => {
                let slot = usize::from(*id);
                versions[slot] += 1;
                live[slot] = true;
                let mut metadata = serde_json::Map::new();
                if let Some(t) = item_type {
                    metadata.insert("type".into(), format!("type-{t}").into());
                }
                if let Some(s) = source {
                    metadata.insert("source_id".into(), format!("source-{s}").into());
                }
                let tags: Vec<String> = tags.iter().map(|t| format!("tag-{t}")).collect();
                metadata.insert("tags".into(), tags.into());
                let metadata_json = serde_json::to_vec(&metadata).unwrap_or_default();
                let id = format!("item-{id}");
                let draft = PutDraft {
                    data_kind: DataKind::Json,
                    id: &id,
                    version: versions[slot],
                    md5: [0; 16],
                    content_type: "",
                    metadata_json: &metadata_json,
                    data: b"{}",
                };
                records.push((kind::PUT, codec::encode_put(&draft, codec::PutEncoding::Plain).0));
            }
            Step::Delete { id } if live[usize::from(*id)] => {
                live[usize::from(*id)] = false;
                let record = DeleteRecord { id: format!("item-{id}"), version: versions[usize::from(*id)] };
                records.push((kind::DELETE, codec::encode_json(&record)));
            }
            Step::Delete { .. } => {}
        }
    }
    records
}

fn apply_all(views: &mut Views, records: &[(u8, Vec<u8>)]) {
    for (offset, (kind, payload)) in records.iter().enumerate() {
        let offset = offset as u64;
        let record = RecordRef { offset, timestamp_us: offset * 7, kind: *kind, flags: 0, payload };
        assert_eq!(views.apply(record, 0), Ok(()), "record {offset}");
    }
}

/// The non-empty bitmaps of each group, by attribute id: the incremental
/// indices keep empty bitmaps for attributes no item has any more.
fn non_empty(by: &ByAttribute) -> [Vec<(usize, RoaringBitmap)>; 3] {
    by.groups().map(|bitmaps| bitmaps.iter().cloned().enumerate().filter(|(_, b)| !b.is_empty()).collect())
}

/// The time index's entries that name an item's latest live version.
fn current_times(views: &Views) -> Vec<(u64, u32)> {
    let (times_us, item_nos, _) = views.state.indices.by_time.parts();
    let mut entries: Vec<(u64, u32)> =
        times_us.iter().zip(item_nos).map(|(&t, &n)| (t, n)).filter(|&(t, n)| views.is_current_time(t, n)).collect();
    entries.sort_unstable();
    entries
}

proptest! {
    #[test]
    fn deferred_indices_equal_the_incremental_ones(steps in vec(step(), 0..80)) {
        let records = records(&steps);
        let mut incremental = Views::default();
        apply_all(&mut incremental, &records);
        let mut deferred = Views::default();
        deferred.with_indices_deferred(records.len(), |views| apply_all(views, &records));
        let (a, b) = (&incremental.state.indices, &deferred.state.indices);
        prop_assert_eq!(non_empty(&a.current), non_empty(&b.current));
        prop_assert_eq!(non_empty(&a.past), non_empty(&b.past));
        prop_assert_eq!(&a.live, &b.live);
        prop_assert_eq!(current_times(&incremental), current_times(&deferred));
        prop_assert_eq!(current_times(&deferred).len() as u64, b.live.len());
        for item_no in 0..deferred.state.items.len() as u32 {
            let id = deferred.state.items.id(item_no).to_string();
            prop_assert_eq!(deferred.item_number(&id), Some(item_no));
        }
    }
}
