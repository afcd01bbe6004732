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

/// A parser with the default fields set.
pub(crate) fn parser(index: &Index, fields: &Fields) -> QueryParser {
    QueryParser::for_index(index, vec![fields.text, fields.id, fields.tags, fields.item_type])
}

/// Parses `text`; a syntax error is the caller's, so it is `InvalidInput`.
pub(crate) fn parse(parser: &QueryParser, text: &str) -> Result<Box<dyn Query>> {
    parser.parse_query(text).map_err(|e| Error::invalid(format!("search query {text:?}: {e}")))
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
    let top = searcher.search(query, &TopDocs::with_limit(limit).order_by(order)).map_err(view_error("search"))?;
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
