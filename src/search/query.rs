//! Parsing a search and bounding it to a point in the log's history.
//!
//! Owns the query syntax (tantivy's, with `text`, `id`, `tags` and `type` as
//! default fields), the as-of filter and the result order. A search as of
//! next-offset `B` sees the log's records below `B`: a version matches when
//! its put is below `B` and whatever superseded it is not
//! (`from_offset < B <= to_offset`). The filter scores nothing, so the
//! ranking is the user query's alone.

use std::ops::Bound;

use tantivy::collector::TopDocs;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::schema::Value;
use tantivy::{Index, Order, Searcher, TantivyDocument, Term};

use super::SearchHit;
use super::schema::{Fields, name};
use super::view_error;
use crate::error::{Error, Result};
use crate::limits::SEARCH_NESTING_MAX;

/// A parser with the default fields set.
pub(crate) fn parser(index: &Index, fields: &Fields) -> QueryParser {
    QueryParser::for_index(index, vec![fields.text, fields.id, fields.tags, fields.item_type])
}

/// Parses `text`; a syntax error is the caller's, so it is `InvalidInput`.
pub(crate) fn parse(parser: &QueryParser, text: &str) -> Result<Box<dyn Query>> {
    // tantivy separates the parts of a JSON field's terms with control
    // characters, and a field path holding one fails an assertion inside
    // it (found by fuzzing `meta.sit\0e:lab`): a panic, not an error.
    if let Some((position, c)) = text.char_indices().find(|&(_, c)| c.is_control() && !c.is_whitespace()) {
        return Err(Error::invalid(format!(
            "search query has the control character {c:?} at byte {position}; only printable text and whitespace are allowed"
        )));
    }
    let nesting = nesting_depth(text);
    if nesting > SEARCH_NESTING_MAX {
        return Err(Error::invalid(format!(
            "search query nests {nesting} levels of groups and NOT/-/+ operators; at most {SEARCH_NESTING_MAX} are allowed"
        )));
    }
    let rewritten = and_not_as_minus(text);
    parser.parse_query(&rewritten).map_err(|e| Error::invalid(format!("search query {}: {e}", abbreviated(text))))
}

/// `a AND NOT b` written as `a AND -b`, which means the same: tantivy's
/// parser turns the first into a query that matches nothing
/// (quickwit-oss/tantivy#2584), the second works. Phrases are left alone.
fn and_not_as_minus(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("AND NOT") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_phrase, mut previous_word) = (false, "");
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            in_phrase = !in_phrase;
        }
        let word_len = rest.find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"')).unwrap_or(rest.len());
        if in_phrase || word_len == 0 {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            if !c.is_whitespace() {
                previous_word = "";
            }
            continue;
        }
        let word = &rest[..word_len];
        let after = rest[word_len..].trim_start();
        let negates_a_term = !after.is_empty() && !after.starts_with(')');
        if word == "NOT" && previous_word == "AND" && negates_a_term {
            out.push('-');
            rest = after;
        } else {
            out.push_str(word);
            rest = &rest[word_len..];
        }
        previous_word = word;
    }
    out.into()
}

/// The deepest point of `text`: open parentheses plus the prefix operators
/// stacked on the term they apply to. Quoted phrases are terms.
fn nesting_depth(text: &str) -> usize {
    let (mut groups, mut prefixes, mut deepest) = (0usize, 0usize, 0usize);
    let mut in_phrase = false;
    for token in text.split_inclusive(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"')) {
        let (word, delimiter) = match token.char_indices().last() {
            Some((at, c)) if c.is_whitespace() || matches!(c, '(' | ')' | '"') => (&token[..at], Some(c)),
            _ => (token, None),
        };
        if !in_phrase {
            let operand = word.trim_start_matches(['-', '+']);
            prefixes += word.len() - operand.len() + usize::from(operand == "NOT");
            deepest = deepest.max(groups + prefixes);
            if !operand.is_empty() && operand != "NOT" {
                prefixes = 0;
            }
        }
        match delimiter {
            Some('"') => {
                in_phrase = !in_phrase;
                prefixes = 0;
            }
            Some('(') if !in_phrase => groups += 1,
            Some(')') if !in_phrase => {
                groups = groups.saturating_sub(1);
                prefixes = 0;
            }
            _ => {}
        }
        deepest = deepest.max(groups + prefixes);
    }
    deepest
}

/// `text` quoted, cut to its first 200 characters: an error message must
/// not echo a huge query back whole.
fn abbreviated(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// `query`, restricted to the versions current as of next-offset `bound`.
pub(crate) fn as_of(query: Box<dyn Query>, fields: &Fields, bound: u64) -> BooleanQuery {
    let created_before =
        RangeQuery::new(Bound::Unbounded, Bound::Excluded(Term::from_field_u64(fields.from_offset, bound)));
    let ended_at_or_after =
        RangeQuery::new(Bound::Included(Term::from_field_u64(fields.to_offset, bound)), Bound::Unbounded);
    BooleanQuery::new(vec![
        (Occur::Must, query),
        (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(created_before), 0.0))),
        (Occur::Must, Box::new(ConstScoreQuery::new(Box::new(ended_at_or_after), 0.0))),
    ])
}

/// The best `limit` hits: by score, then by offset (oldest first).
pub(crate) fn top_hits(
    searcher: &Searcher,
    fields: &Fields,
    query: &dyn Query,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    // TopDocs keeps a buffer of twice the limit: a limit above the number of
    // documents would only allocate for hits that cannot exist.
    let limit = limit.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
    if limit == 0 {
        return Ok(Vec::new());
    }
    let order = (SortBySimilarityScore, (SortByStaticFastValue::<u64>::for_field(name::FROM_OFFSET), Order::Asc));
    let top = searcher.search(query, &TopDocs::with_limit(limit).order_by(order)).map_err(|error| match error {
        // A query that asks the schema for what it lacks (`id:*` needs a
        // fast field): the caller's mistake, not the index's.
        tantivy::TantivyError::SchemaError(why) => Error::invalid(format!("search query: {why}")),
        other => view_error("search")(other),
    })?;
    top.into_iter()
        .map(|((score, from_offset), address)| {
            let doc: TantivyDocument = searcher.doc(address).map_err(view_error("read stored fields"))?;
            let id = doc.get_first(fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let versions = searcher.segment_reader(address.segment_ord).fast_fields().u64(name::VERSION);
            let version = versions.map_err(view_error("open fast field"))?.first(address.doc_id).unwrap_or(0);
            let (version, offset) = (u32::try_from(version).unwrap_or(u32::MAX), from_offset.unwrap_or(0));
            Ok(SearchHit { id, version, offset, score })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{and_not_as_minus, nesting_depth};

    #[test]
    fn a_control_character_is_refused_before_tantivy_sees_it() {
        let index = tantivy::Index::create_in_ram(crate::search::schema::build());
        crate::search::tokenizer::register(&index);
        let fields = crate::search::schema::Fields::of(&index.schema()).expect("the schema's fields");
        let parser = super::parser(&index, &fields);
        for text in ["meta.sit\u{0}e:lab-a", "meta.a\u{1}b:x", "lab\u{7f}"] {
            match super::parse(&parser, text) {
                Err(crate::Error::InvalidInput { what }) => assert!(what.contains("control character"), "{what}"),
                other => panic!("{text:?} must be refused as invalid input, got {:?}", other.map(|_| ())),
            }
        }
        assert!(super::parse(&parser, "meta.site:lab\tfox").is_ok(), "whitespace stays allowed");
    }

    #[test]
    fn and_not_becomes_and_minus_outside_phrases_only() {
        assert_eq!(and_not_as_minus("fox AND NOT lazy"), "fox AND -lazy");
        assert_eq!(and_not_as_minus("fox AND NOT (lazy OR dog) AND NOT  cat"), "fox AND -(lazy OR dog) AND -cat");
        assert_eq!(and_not_as_minus(r#"fox AND NOT "lazy dog""#), r#"fox AND -"lazy dog""#);
        assert_eq!(and_not_as_minus(r#""fox AND NOT lazy" AND tag"#), r#""fox AND NOT lazy" AND tag"#);
        assert_eq!(and_not_as_minus("fox NOT lazy"), "fox NOT lazy", "only after AND");
        assert_eq!(and_not_as_minus("fox AND NOT"), "fox AND NOT", "nothing to negate: left to the parser's error");
        assert_eq!(and_not_as_minus("LAND NOT x"), "LAND NOT x");
    }

    #[test]
    fn nesting_counts_groups_and_stacked_prefix_operators() {
        assert_eq!(nesting_depth("fox"), 0);
        assert_eq!(nesting_depth("fox AND NOT lazy OR -dog +cat"), 1, "a flat query nests one operator at a time");
        assert_eq!(nesting_depth("(a OR (b AND c))"), 2);
        assert_eq!(nesting_depth(&format!("{}fox{}", "(".repeat(400), ")".repeat(400))), 400);
        assert_eq!(nesting_depth(&format!("{}fox", "NOT ".repeat(50))), 50);
        assert_eq!(nesting_depth("-(-(-(fox)))"), 6);
        assert_eq!(nesting_depth(r#""((( NOT NOT" fox"#), 0, "a phrase is one term");
    }
}
