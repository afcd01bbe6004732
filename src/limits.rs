//! Every bound recstore enforces, in one place, with compile-time checks
//! between the ones that depend on each other.

/// Default target size of a segment before the log rolls to a new one.
pub const SEGMENT_SIZE_BYTES_DEFAULT: u64 = 128 * 1024 * 1024;

/// Largest segment size a log may be opened with. A frame records how much
/// of its segment was durable as a u32 (segments-format.md, "Frame"), so a
/// segment, which can pass this size by one frame, must end below 4 GiB.
pub const SEGMENT_SIZE_BYTES_MAX: u64 = 2 * 1024 * 1024 * 1024;

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

/// The longest token the search index keeps; longer ones are dropped (as
/// the default analyzer's `RemoveLongFilter::limit(40)` does) but still take
/// a position.
pub const SEARCH_TOKEN_SIZE_BYTES_MAX: usize = 39;

/// Free text taken from one version is cut at this size: a 64 MiB item
/// should not make a 64 MiB posting list entry.
pub const SEARCH_TEXT_SIZE_BYTES_MAX: usize = 1024 * 1024;

/// How deeply a search may nest groups and prefix operators (`NOT`, `-`,
/// `+`). tantivy's parser recurses once per level, and a few hundred levels
/// overflow a thread's stack, which aborts the process instead of failing
/// the query: one short request could stop the server. Real queries nest a
/// few levels.
pub const SEARCH_NESTING_MAX: usize = 32;

/// Items planned per hold of the views' read lock, so writers applying
/// records wait for one chunk at most, not for the whole plan.
pub const COMPACTION_PLAN_CHUNK_ITEMS_MAX: usize = 16_384;

/// Pinned ids checked per hold of the views' read lock, so writers applying
/// records wait for one chunk at most.
pub const COMPACTION_PIN_CHUNK_IDS_MAX: usize = 16_384;

/// A row group is closed once the writer buffers this much.
pub const EXPORT_ROW_GROUP_BYTES_MAX: usize = 128 * 1024 * 1024;

/// A batch is written early once its lines hold this many bytes, so that a
/// batch of large items stays well under the log's batch limit.
pub const IMPORT_BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Rows gathered into one batch at most.
pub const EXPORT_BATCH_ROWS_MAX: usize = 4096;

/// Data bytes gathered into one batch at most.
pub const EXPORT_BATCH_DATA_BYTES_MAX: usize = 32 * 1024 * 1024;

/// The most new items a replay sizes the id index for up front (about 40
/// MiB): a log of many updates to few items has far fewer items than
/// records, and the room it does not use lasts only until the replay ends.
pub const REPLAY_ID_RESERVE_ITEMS_MAX: usize = 1 << 22;

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

/// Longest request target (path and query) the server accepts; a longer
/// one is answered 414.
pub const HTTP_URI_SIZE_BYTES_MAX: usize = 16 * 1024;

/// Most header fields a request may carry; more are answered 431.
pub const HTTP_HEADER_COUNT_MAX: usize = 100;

/// Most bytes a request's header fields may take together (each counted as
/// `name: value` and its line break); more are answered 431.
pub const HTTP_HEADERS_SIZE_BYTES_MAX: usize = 64 * 1024;

/// hyper's own limits, set above the server's so that a request over those
/// still reaches the code that answers it with the JSON error body: the
/// most header fields hyper parses, and the bytes it buffers for a head.
/// (hyper's request-target limit is fixed at 65,534 bytes.)
pub const HTTP_PARSER_HEADER_COUNT_MAX: usize = 4 * HTTP_HEADER_COUNT_MAX;
/// See [`HTTP_PARSER_HEADER_COUNT_MAX`].
pub const HTTP_PARSER_BUFFER_SIZE_BYTES_MAX: usize = 4 * (HTTP_URI_SIZE_BYTES_MAX + HTTP_HEADERS_SIZE_BYTES_MAX);
const _: () = assert!(
    HTTP_URI_SIZE_BYTES_MAX < 65_534,
    "a target over the server's limit must still be under hyper's fixed one, to get the server's answer"
);
const _: () = assert!(
    HTTP_URI_SIZE_BYTES_MAX + HTTP_HEADERS_SIZE_BYTES_MAX < HTTP_PARSER_BUFFER_SIZE_BYTES_MAX,
    "a head just over the server's limits must fit hyper's buffer"
);

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

/// Largest token file `recstore serve --token-file` reads: it holds a few
/// short lines, and a larger file (say `/dev/zero`) is a mistake.
pub const TOKEN_FILE_SIZE_BYTES_MAX: u64 = 4096;

/// Tokens a token file may hold at once: enough for a rotation's overlap
/// (old and new, or one per client group), few enough to compare with
/// each on every request.
pub const TOKEN_FILE_TOKENS_MAX: usize = 16;

/// Bytes of events a live log subscription may hold that its consumer has
/// not taken yet (the batch read from the log, and the channel). A slow
/// follower makes its reader wait, and resumes from the log, beyond this.
pub const FOLLOWER_BUFFER_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Results of `GET /v1/query` and events of `GET /v1/log` when the request
/// gives no `limit`.
pub const HTTP_LIST_LIMIT_DEFAULT: usize = 10_000;

/// Largest `limit` a query or log request may ask for; page beyond it.
pub const HTTP_LIST_LIMIT_MAX: usize = 1_000_000;

/// Longest line `recstore import` reads: the largest item's data as base64
/// (4 bytes for every 3) plus 1 MiB of envelope and metadata. A longer line
/// is refused, naming its number, before more of it is read.
pub const IMPORT_LINE_SIZE_BYTES_MAX: usize = RECORD_SIZE_BYTES_DEFAULT as usize / 3 * 4 + 1024 * 1024;
const _: () = assert!(
    SEGMENT_SIZE_BYTES_MAX + FRAME_SIZE_BYTES_MAX as u64 <= u32::MAX as u64,
    "every position in a segment must fit a frame's u32 durable length"
);
