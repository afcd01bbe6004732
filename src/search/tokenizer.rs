//! The tokenizer of the free-text field: tantivy's default analyzer
//! (`SimpleTokenizer`, then `RemoveLongFilter` at 40 bytes, then
//! `LowerCaser`) in one pass over the bytes.
//!
//! Owns nothing but speed: it must give exactly the tokens, positions and
//! offsets the default analyzer gives (a proptest holds it to that). The
//! default one decodes every character, copies each token, long ones too,
//! before the filter drops it, and lowercases it afterwards; on item data
//! with long runs of letters (identifiers, hashes, base64) that was 7% of a
//! whole ingest's instructions. Here ASCII is classified through a table, a
//! dropped token is never copied, and a kept one is lowercased as it is copied.

use crate::limits::SEARCH_TOKEN_SIZE_BYTES_MAX;
use tantivy::Index;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name under which the text field's tokenizer is registered.
pub(crate) const TEXT_TOKENIZER: &str = "recstore_text";

/// Makes [`TEXT_TOKENIZER`] known to `index`: every index this build opens
/// or creates needs it, for writing and for parsing queries alike.
pub(crate) fn register(index: &Index) {
    index.tokenizers().register(TEXT_TOKENIZER, TextTokenizer::default());
}

/// Splits on every character that is not alphanumeric, drops long tokens
/// and lowercases the rest.
#[derive(Clone, Default)]
pub(crate) struct TextTokenizer {
    token: Token,
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = TextTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TextTokenStream<'a> {
        self.token.reset();
        TextTokenStream { text, next_byte: 0, token: &mut self.token }
    }
}

/// The tokens of one text.
pub(crate) struct TextTokenStream<'a> {
    text: &'a str,
    /// Where the search for the next token starts.
    next_byte: usize,
    token: &'a mut Token,
}

/// Whether each ASCII byte is alphanumeric. Read per byte, the table costs
/// half the instructions of `u8::is_ascii_alphanumeric`'s range checks.
const ASCII_ALPHANUMERIC: [bool; 128] = {
    let mut table = [false; 128];
    let mut byte = 0;
    while byte < 128 {
        table[byte] = (byte as u8).is_ascii_alphanumeric();
        byte += 1;
    }
    table
};

impl TextTokenStream<'_> {
    /// Where the first character at or after `from` whose alphanumeric-ness
    /// is `alphanumeric` starts, or the text's end. `from` is always on a
    /// character boundary: it only ever moves by whole characters.
    fn find(&self, from: usize, alphanumeric: bool) -> usize {
        let bytes = self.text.as_bytes();
        let mut at = from;
        loop {
            while at < bytes.len() && bytes[at] < 128 && ASCII_ALPHANUMERIC[usize::from(bytes[at])] != alphanumeric {
                at += 1;
            }
            let Some(&byte) = bytes.get(at) else { return at };
            if byte < 128 {
                return at;
            }
            let c = self.text[at..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            if c.is_alphanumeric() == alphanumeric {
                return at;
            }
            at += c.len_utf8();
        }
    }
}

impl TokenStream for TextTokenStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            let start = self.find(self.next_byte, true);
            if start == self.text.len() {
                self.next_byte = start;
                return false;
            }
            let end = self.find(start, false);
            self.next_byte = end;
            self.token.position = self.token.position.wrapping_add(1);
            if end - start > SEARCH_TOKEN_SIZE_BYTES_MAX {
                continue;
            }
            let word = &self.text[start..end];
            self.token.text.clear();
            if word.is_ascii() {
                self.token.text.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            } else {
                self.token.text.extend(word.chars().flat_map(char::to_lowercase));
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            return true;
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy::tokenizer::{TextAnalyzer, TokenizerManager};

    fn tokens(mut stream: impl TokenStream) -> Vec<(String, usize, usize, usize)> {
        let mut out = Vec::new();
        while stream.advance() {
            let token = stream.token();
            out.push((token.text.clone(), token.position, token.offset_from, token.offset_to));
        }
        out
    }

    fn default_analyzer() -> TextAnalyzer {
        TokenizerManager::default().get("default").expect("tantivy registers a default analyzer")
    }

    #[test]
    fn splits_drops_long_tokens_and_lowercases_like_the_default_analyzer() {
        let long = "x".repeat(40);
        let text = format!("Hello, WORLD! {long} Straße ÉTÉ 42-b\u{2003}日本語");
        let ours = tokens(TextTokenizer::default().token_stream(&text));
        assert_eq!(ours, tokens(default_analyzer().token_stream(&text)));
        let words: Vec<&str> = ours.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(words, ["hello", "world", "straße", "été", "42", "b", "日本語"]);
        assert_eq!(ours[2].1, 3, "the dropped long token keeps its position");
    }

    #[test]
    fn a_token_of_the_longest_size_is_kept() {
        let text = "y".repeat(SEARCH_TOKEN_SIZE_BYTES_MAX);
        assert_eq!(tokens(TextTokenizer::default().token_stream(&text)).len(), 1);
    }

    proptest! {
        #[test]
        fn gives_the_default_analyzers_tokens(text in "([a-zA-Z0-9]{0,45}|[ ,.\\-_\n]|[àÉßİΣщ日🙂]|\\PC){0,40}") {
            let ours = tokens(TextTokenizer::default().token_stream(&text));
            prop_assert_eq!(ours, tokens(default_analyzer().token_stream(&text)));
        }
    }
}
