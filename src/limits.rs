//! Every bound recstore enforces, in one place, with compile-time checks
//! between the ones that depend on each other.

/// Default target size of a segment before the log rolls to a new one.
pub const SEGMENT_SIZE_BYTES_DEFAULT: u64 = 128 * 1024 * 1024;

/// Default largest payload of one record. Larger input is refused before
/// anything is written.
pub const RECORD_SIZE_BYTES_DEFAULT: u32 = 64 * 1024 * 1024;

/// Largest frame (one batch) a writer may produce or a reader will accept.
/// Bounded so a reader can reject a corrupt size field before it allocates.
pub const FRAME_SIZE_BYTES_MAX: u32 = 1024 * 1024 * 1024;

/// Default largest frame a writer produces: one atomic batch.
pub const BATCH_SIZE_BYTES_DEFAULT: u32 = 256 * 1024 * 1024;

/// Most records one batch may hold.
pub const BATCH_RECORD_COUNT_MAX: u32 = 1_000_000;

/// Longest id, dataset name or consumer group name, in bytes.
pub const NAME_SIZE_BYTES_MAX: usize = 512;

/// Bytes of frames between two entries of a segment's sparse index.
pub const INDEX_INTERVAL_BYTES: u64 = 64 * 1024;

const _: () =
    assert!(BATCH_SIZE_BYTES_DEFAULT <= FRAME_SIZE_BYTES_MAX, "the default batch must be a frame a reader accepts");
const _: () = assert!(
    RECORD_SIZE_BYTES_DEFAULT < BATCH_SIZE_BYTES_DEFAULT,
    "one maximal record plus its headers must fit in a batch"
);

/// Largest HTTP request body the server accepts.
pub const HTTP_BODY_SIZE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Longest an HTTP request (other than a live log stream) may take.
pub const HTTP_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Deepest nesting of arrays and objects in item data and in each metadata
/// value (`[[1]]` is 2 levels), on every path: library, CLI, HTTP, import.
/// Below serde_json's recursion limit of 128 with room for the envelopes
/// around data (an import line, an HTTP batch), so that the parser never
/// meets a legal item's depth first.
pub const JSON_DEPTH_MAX: usize = 100;

/// serde_json's recursion limit: it refuses a document nested this deep.
pub const JSON_PARSER_DEPTH_LIMIT: usize = 128;

const _: () = assert!(
    JSON_DEPTH_MAX + 3 < JSON_PARSER_DEPTH_LIMIT,
    "an HTTP batch adds 3 levels around a metadata value: a list, an item, its metadata"
);

/// Most days of history a retention policy may name (`--retention-days`,
/// `retention_days`): about a hundred years, which keeps all of any store.
/// Larger values are refused before anything runs, never wrapped.
pub const RETENTION_DAYS_MAX: u32 = 36_500;

/// How long a search waits for the search index to catch up while it makes
/// no progress at all. A search after a large import waits as long as the
/// index keeps moving; only an index stuck this long fails the search.
pub const SEARCH_STALL_TIMEOUT_MS: u64 = 30_000;
