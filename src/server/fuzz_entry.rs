//! The HTTP fuzz targets' way in (see `crate::fuzzing`): a query string
//! read through every accessor the handlers use, and a body parsed as each
//! JSON endpoint parses it. Owns no route and never touches a store.

use axum::body::Bytes;

use super::params::{Params, json_body};
use crate::json_object::ObjectOnly;

/// Every parameter accessor, over every name the handlers read.
pub(crate) fn fuzz_query(raw: &[u8]) {
    let params = Params::parse(Some(String::from_utf8_lossy(raw).into_owned()));
    let names: Vec<String> = params.keys().map(str::to_string).collect();
    for name in names.iter().map(String::as_str).chain(["as_of", "version", "limit", "from", "tag", "since"]) {
        let _ = params.single(name);
        let _ = params.all(name);
        let _ = params.number::<u64>(name);
        let _ = params.number::<u32>(name);
        let _ = params.flag(name);
        let _ = params.when(name);
    }
    let _ = params.version_as_of();
    let _ = params.only(&["as_of"]);
}

/// The body as one item, a batch, and a dataset.
pub(crate) fn fuzz_body(bytes: &[u8]) {
    let body = || Ok(Bytes::copy_from_slice(bytes));
    let _ = json_body::<ObjectOnly<super::items::ItemBody>>(body()).map(|ObjectOnly(item)| crate::NewItem::from(item));
    let _ = json_body::<Vec<ObjectOnly<super::items::ItemBody>>>(body());
    let _ = super::datasets::fuzz_dataset_body(bytes);
}
