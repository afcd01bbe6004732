//! `segments-format.md` and the code describe the same bytes.
//!
//! The field lists of the format document (`- start..end (N bytes): name
//! (type) = value`) are parsed here, and each documented field is read at its
//! documented position from files the real `Log` wrote, then compared with
//! what the test appended. Checksums are recomputed over exactly the byte
//! ranges the document says they cover. If the document or the writer moves
//! a field, renames one, or changes a size, this test fails.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use recstore::log::{Appended, FLAG_COMPRESSED, FORMAT_VERSION, Log, LogOptions, NewRecord, SyncMode};

use common::TestResult;

/// One line of a documented field list.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    start: usize,
    /// `None` for a variable-length field, which must come last.
    size_bytes: Option<usize>,
    /// The integer type, or `[u8; N]`; `None` for variable-length fields.
    type_name: Option<String>,
    /// A constant the document gives after ` = `.
    value: Option<String>,
}

/// Field lists by the heading they sit under.
fn parse_tables(doc: &str) -> BTreeMap<String, Vec<Field>> {
    let mut tables: BTreeMap<String, Vec<Field>> = BTreeMap::new();
    let mut heading = String::new();
    for line in doc.lines() {
        if let Some(title) = line.strip_prefix("### ").or_else(|| line.strip_prefix("## ")) {
            heading = title.trim().to_string();
            continue;
        }
        let Some(rest) = line.strip_prefix("- ") else { continue };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        tables.entry(heading.clone()).or_default().push(parse_field(rest));
    }
    tables
}

/// Parses `0..8 (8 bytes): magic ([u8; 8]) = 89 52 ...` or
/// `16..frame_size_bytes (variable): records`.
fn parse_field(line: &str) -> Field {
    let (range, rest) = line.split_once(" (").unwrap_or_else(|| malformed(line));
    let (size, rest) = rest.split_once("): ").unwrap_or_else(|| malformed(line));
    let (start, end) = range.split_once("..").unwrap_or_else(|| malformed(line));
    let start: usize = start.parse().unwrap_or_else(|_| malformed(line));
    let size_bytes = match size {
        "variable" => None,
        fixed => {
            let count = fixed.strip_suffix(" bytes").or_else(|| fixed.strip_suffix(" byte"));
            let count: usize = count.and_then(|c| c.parse().ok()).unwrap_or_else(|| malformed(line));
            let end: usize = end.parse().unwrap_or_else(|_| malformed(line));
            assert_eq!(end - start, count, "range and size disagree in `- {line}`");
            Some(count)
        }
    };
    let (declaration, value) = match rest.split_once(" = ") {
        Some((declaration, value)) => (declaration, Some(value.trim().to_string())),
        None => (rest, None),
    };
    let (name, type_name) = match declaration.split_once(" (") {
        Some((name, type_name)) => {
            (name, Some(type_name.strip_suffix(')').unwrap_or_else(|| malformed(line)).to_string()))
        }
        None => (declaration, None),
    };
    Field { name: name.trim().to_string(), start, size_bytes, type_name, value }
}

fn malformed(line: &str) -> ! {
    panic!("malformed field line in segments-format.md: `- {line}`")
}

/// The table under `heading`, checked to list exactly `names`, in order,
/// back to back from byte 0, each with a type as wide as its size.
fn table(tables: &BTreeMap<String, Vec<Field>>, heading: &str, names: &[&str]) -> Table {
    let fields = tables.get(heading).unwrap_or_else(|| panic!("no field list under `{heading}`"));
    let found: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(found, names, "fields under `{heading}`");
    let mut position = 0;
    for (field_index, field) in fields.iter().enumerate() {
        assert_eq!(field.start, position, "`{}` under `{heading}` must follow the field before it", field.name);
        match field.size_bytes {
            Some(size) => {
                let type_name = field.type_name.as_deref().unwrap_or("");
                let width = match type_name {
                    "u8" => 1,
                    "u16" => 2,
                    "u32" => 4,
                    "u64" => 8,
                    array => array
                        .strip_prefix("[u8; ")
                        .and_then(|n| n.strip_suffix(']'))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("unknown type `{array}` of `{}`", field.name)),
                };
                assert_eq!(width, size, "type and size of `{}` under `{heading}`", field.name);
                position += size;
            }
            None => assert_eq!(field_index, fields.len() - 1, "only the last field may have a variable size"),
        }
    }
    Table { heading: heading.to_string(), fields: fields.clone(), fixed_size_bytes: position }
}

struct Table {
    heading: String,
    fields: Vec<Field>,
    /// Bytes of the fixed-size fields: where a variable-length one starts.
    fixed_size_bytes: usize,
}

impl Table {
    fn field(&self, name: &str) -> &Field {
        self.fields.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no `{name}` under `{}`", self.heading))
    }

    /// The bytes of field `name` of the structure starting at `at`.
    fn bytes<'a>(&self, structure: &'a [u8], at: usize, name: &str) -> &'a [u8] {
        let field = self.field(name);
        let size = field.size_bytes.unwrap_or_else(|| panic!("`{name}` has no fixed size"));
        &structure[at + field.start..at + field.start + size]
    }

    /// Field `name` of the structure at `at`, as a little-endian integer.
    fn uint(&self, structure: &[u8], at: usize, name: &str) -> u64 {
        let bytes = self.bytes(structure, at, name);
        assert!(bytes.len() <= 8, "`{name}` is not an integer");
        bytes.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b))
    }

    /// Checks that a field the document gives a constant for holds it.
    fn check_constant(&self, structure: &[u8], at: usize, name: &str) {
        let field = self.field(name);
        let value = field.value.as_deref().unwrap_or_else(|| panic!("`{name}` has no documented value"));
        let expected: Vec<u8> = if field.type_name.as_deref().is_some_and(|t| t.starts_with('[')) {
            value.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect()
        } else {
            let number: u64 = value.parse().expect("documented integer");
            number.to_le_bytes()[..field.size_bytes.expect("fixed size")].to_vec()
        };
        assert_eq!(self.bytes(structure, at, name), expected, "documented value of `{name}`");
    }
}

fn now_us() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).expect("after 1970")
}

struct Layout {
    header: Table,
    frame: Table,
    record: Table,
    index_header: Table,
    index_entry: Table,
    index_trailer: Table,
}

fn documented_layout() -> Result<Layout, std::io::Error> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("segments-format.md"))?;
    let tables = parse_tables(&doc);
    Ok(Layout {
        header: table(
            &tables,
            "Segment header",
            &["magic", "format_version", "base_offset", "created_us", "header_crc32"],
        ),
        frame: table(
            &tables,
            "Frame",
            &["frame_crc32", "frame_size_bytes", "record_count", "durable_len_bytes", "records"],
        ),
        record: table(
            &tables,
            "Record",
            &["offset", "timestamp_us", "kind", "flags", "reserved", "payload_size_bytes", "record_crc32", "payload"],
        ),
        index_header: table(
            &tables,
            "Index header",
            &[
                "magic",
                "index_version",
                "entry_count",
                "base_offset",
                "segment_size_bytes",
                "last_offset",
                "last_timestamp_us",
            ],
        ),
        index_entry: table(&tables, "Index entry", &["offset", "timestamp_us", "position_bytes"]),
        index_trailer: table(&tables, "Index trailer", &["index_crc32"]),
    })
}

/// Checks a segment header against the document; returns the header size.
fn check_segment_header(layout: &Layout, segment: &[u8], base_offset: u64, created_range_us: (u64, u64)) -> usize {
    let header = &layout.header;
    header.check_constant(segment, 0, "magic");
    header.check_constant(segment, 0, "format_version");
    assert_eq!(header.uint(segment, 0, "format_version"), u64::from(FORMAT_VERSION));
    assert_eq!(header.uint(segment, 0, "base_offset"), base_offset);
    let created_us = header.uint(segment, 0, "created_us");
    assert!((created_range_us.0..=created_range_us.1).contains(&created_us), "created_us={created_us}");
    let crc_start = header.field("header_crc32").start;
    assert_eq!(header.uint(segment, 0, "header_crc32"), u64::from(crc32fast::hash(&segment[..crc_start])));
    header.fixed_size_bytes
}

/// Checks the frame at `position` holds `records` as appended; returns the
/// position just past it.
fn check_frame(
    layout: &Layout,
    segment: &[u8],
    position: usize,
    appended: &Appended,
    records: &[NewRecord<'_>],
) -> usize {
    let (frame, record) = (&layout.frame, &layout.record);
    let size = records.iter().fold(frame.fixed_size_bytes, |acc, r| acc + record.fixed_size_bytes + r.payload.len());
    assert_eq!(frame.uint(segment, position, "frame_size_bytes"), size as u64);
    assert_eq!(frame.uint(segment, position, "record_count"), records.len() as u64);
    let durable_len_bytes = frame.uint(segment, position, "durable_len_bytes");
    assert!((32..=position as u64).contains(&durable_len_bytes), "durable_len_bytes={durable_len_bytes} at {position}");
    let covered = &segment[position + frame.field("frame_size_bytes").start..position + size];
    assert_eq!(frame.uint(segment, position, "frame_crc32"), u64::from(crc32fast::hash(covered)), "frame crc coverage");
    assert_eq!(frame.field("records").start, frame.fixed_size_bytes);

    let mut at = position + frame.fixed_size_bytes;
    for (record_index, new) in records.iter().enumerate() {
        assert_eq!(appended.positions_bytes[record_index], at as u64, "record position");
        assert_eq!(record.uint(segment, at, "offset"), appended.first_offset + record_index as u64);
        assert_eq!(record.uint(segment, at, "timestamp_us"), appended.timestamp_us);
        assert_eq!(record.uint(segment, at, "kind"), u64::from(new.kind));
        assert_eq!(record.uint(segment, at, "flags"), u64::from(new.flags));
        record.check_constant(segment, at, "reserved");
        assert_eq!(record.uint(segment, at, "payload_size_bytes"), new.payload.len() as u64);
        let payload_start = at + record.field("payload").start;
        assert_eq!(record.field("payload").start, record.fixed_size_bytes);
        assert_eq!(&segment[payload_start..payload_start + new.payload.len()], new.payload);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&segment[at..at + record.field("record_crc32").start]);
        crc.update(new.payload);
        assert_eq!(record.uint(segment, at, "record_crc32"), u64::from(crc.finalize()), "record crc coverage");
        at = payload_start + new.payload.len();
    }
    assert_eq!(at, position + size, "records fill their frame exactly");
    at
}

#[test]
fn documented_layout_matches_bytes_the_writer_produced() -> TestResult {
    let layout = documented_layout()?;
    // zlib of b"hello hello hello hello": the log stores it as given.
    let zlib = [0x78, 0xda, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x27, 0x01, 0x68, 0x03, 0x08, 0xb1];
    let batch_one = [
        NewRecord { kind: 7, flags: 0, payload: b"alpha" },
        NewRecord { kind: 200, flags: FLAG_COMPRESSED, payload: &zlib },
    ];
    let batch_two = [NewRecord { kind: 0, flags: 0, payload: b"" }];
    let batch_three = [NewRecord { kind: 255, flags: 0, payload: b"in the second segment" }];

    let dir = tempfile::tempdir()?;
    let before_us = now_us();
    let log = Log::open(dir.path(), LogOptions { sync: SyncMode::Never, ..LogOptions::default() })?;
    let appended_one = log.append(&batch_one)?;
    let appended_two = log.append(&batch_two)?;
    log.roll()?;
    let appended_three = log.append(&batch_three)?;
    drop(log);
    let after_us = now_us();

    let segment = std::fs::read(dir.path().join("00000000000000000000.seg"))?;
    let mut position = check_segment_header(&layout, &segment, 0, (before_us, after_us));
    let first_frame_position = position;
    position = check_frame(&layout, &segment, position, &appended_one, &batch_one);
    position = check_frame(&layout, &segment, position, &appended_two, &batch_two);
    assert_eq!(position, segment.len(), "frames follow each other to the end of a sealed segment");

    let second = std::fs::read(dir.path().join("00000000000000000003.seg"))?;
    let position = check_segment_header(&layout, &second, 3, (before_us, after_us));
    assert_eq!(check_frame(&layout, &second, position, &appended_three, &batch_three), second.len());

    let index = std::fs::read(dir.path().join("00000000000000000000.idx"))?;
    let header = &layout.index_header;
    header.check_constant(&index, 0, "magic");
    header.check_constant(&index, 0, "index_version");
    assert_eq!(header.uint(&index, 0, "entry_count"), 1, "a small segment has only its first frame indexed");
    assert_eq!(header.uint(&index, 0, "base_offset"), 0);
    assert_eq!(header.uint(&index, 0, "segment_size_bytes"), segment.len() as u64);
    assert_eq!(header.uint(&index, 0, "last_offset"), appended_two.last_offset);
    assert_eq!(header.uint(&index, 0, "last_timestamp_us"), appended_two.timestamp_us);
    let entry = &layout.index_entry;
    let entry_at = header.fixed_size_bytes;
    assert_eq!(entry.uint(&index, entry_at, "offset"), appended_one.first_offset);
    assert_eq!(entry.uint(&index, entry_at, "timestamp_us"), appended_one.timestamp_us);
    assert_eq!(entry.uint(&index, entry_at, "position_bytes"), first_frame_position as u64);
    let trailer_at = entry_at + entry.fixed_size_bytes;
    assert_eq!(index.len(), trailer_at + layout.index_trailer.fixed_size_bytes, "index file length");
    let crc = layout.index_trailer.uint(&index, trailer_at, "index_crc32");
    assert_eq!(crc, u64::from(crc32fast::hash(&index[..trailer_at])), "index crc coverage");
    Ok(())
}

#[test]
fn documented_sizes_are_the_ones_the_code_uses() -> TestResult {
    let layout = documented_layout()?;
    // The size constants are private to the log (src/log/frame.rs,
    // src/log/index.rs); the test above shows the writer's bytes agree.
    assert_eq!(layout.header.fixed_size_bytes, 32, "SEGMENT_HEADER_SIZE_BYTES");
    assert_eq!(layout.frame.fixed_size_bytes, 16, "FRAME_HEADER_SIZE_BYTES");
    assert_eq!(layout.record.fixed_size_bytes, 28, "RECORD_HEADER_SIZE_BYTES");
    assert_eq!(layout.index_header.fixed_size_bytes, 48, "INDEX_HEADER_SIZE_BYTES");
    assert_eq!(layout.index_entry.fixed_size_bytes, 24, "INDEX_ENTRY_SIZE_BYTES");
    assert_eq!(layout.index_trailer.fixed_size_bytes, 4, "the trailing crc");
    Ok(())
}
