//! JSON and JSON Lines of any shape, read as records.
//!
//! Records are found at any depth. An object is one when it has a text field (`text`,
//! `content`, `body`, `answer`, `description`), when it is an item of an array, when its
//! values are all scalars, or when it has a title (`title`, `name`, `question`) and only
//! nested objects or lists of small untitled objects (details of it, such as sittings).
//! Other objects hold records: their heading (the title, else a string that reads like a
//! name, such as a programme's) and the keys on the way become the section path of the
//! records below, which their text names in parentheses so a chunk reads in context; their
//! other scalar fields form a document of their own.
//!
//! A record's text field is its text, followed by its other fields written out as for a
//! record without one (the facts exports keep in fields: an extension, a price, hours). A
//! record without a text field is written out
//! as a line: the title, then the fields in file order, with well-known pairs such as
//! `start`/`end` joined by "–", days, dates, places and worded prices bare, other fields as
//! `key: value`, then free text (`notes`, `details`, ...) and nested objects as sentences.
//! `id` (or `_id`) is the id, else the record's path (`events/3`, counting from 1; `record-N`
//! for the file's own records, as always), so reading a file again gives the same ids. A
//! `metadata` object and all scalar or string-list fields (nested ones under dotted keys)
//! become metadata. Strings, numbers and lists of them read as plain text.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::ReadOptions;
use crate::document::{Block, Metadata, ParsedDocument, normalize_whitespace};
use crate::error::{ReadError, Result};

const TEXT_FIELDS: &[&str] = &["text", "content", "body", "answer", "description"];
const TITLE_FIELDS: &[&str] = &["title", "name", "question"];
const ID_FIELDS: &[&str] = &["id", "_id"];

/// Field pairs that read as one range, "18:00–19:00". Keys are compared as lower-case words
/// joined by `_`, so `startTime`, `start-time` and `start_time` all match `start_time`.
const RANGE_FIELDS: &[(&str, &str)] = &[
    ("start", "end"),
    ("starts", "ends"),
    ("begin", "end"),
    ("start_time", "end_time"),
    ("start_date", "end_date"),
    ("from", "to"),
    ("date_from", "date_to"),
    ("time_from", "time_to"),
    ("valid_from", "valid_to"),
    ("opens", "closes"),
    ("open", "close"),
    ("opening", "closing"),
];
/// When something happens: clear without its key, and run together with the times after it
/// ("Monday 18:00–19:00").
const WHEN_FIELDS: &[&str] = &[
    "day", "days", "weekday", "weekdays", "date", "dates", "when", "time", "times",
];
/// Where something happens: clear without its key.
const PLACE_FIELDS: &[&str] = &["location", "place", "venue", "where"];
/// Prices read bare when they are worded ("free", "EUR 12"); a bare number needs its key.
const PRICE_FIELDS: &[&str] = &["price", "prices", "cost", "fee"];
/// Free text: sentences after the line rather than items in it (the text fields too, when
/// they are not the record's text).
const FREE_TEXT_FIELDS: &[&str] = &[
    "notes",
    "note",
    "details",
    "summary",
    "remarks",
    "comment",
    "comments",
    "info",
    "information",
];
/// Fields that file a record (under a category, with tags) rather than state a fact of it:
/// metadata for filters, never read as text after a record's own. Keys as `key_words` gives
/// them.
const CLASSIFYING_FIELDS: &[&str] = &[
    "category",
    "categories",
    "tag",
    "tags",
    "keywords",
    "labels",
    "topic",
    "topics",
    "type",
    "kind",
    "lang",
    "language",
    "slug",
    "url",
    "created",
    "updated",
    "created at",
    "updated at",
    "last updated",
];
/// Other values this long read better as a sentence of their own than as an item of a list.
const LONG_VALUE_CHARS: usize = 80;
/// How deep objects inside a record are written out, in its text and its metadata; deeper
/// ones are left out. The walk over the records themselves uses an explicit stack, and
/// serde_json refuses nesting deeper than 128 while parsing, so no input overflows the stack.
const MAX_NESTED_DEPTH: usize = 8;

pub(super) fn read_json(
    text: &str,
    name: &str,
    options: &ReadOptions,
) -> Result<Vec<ParsedDocument>> {
    let value: Node = serde_json::from_str(text).map_err(|err| {
        ReadError::malformed(
            name,
            format!(
                "invalid JSON at line {}, column {}: {err}",
                err.line(),
                err.column()
            ),
        )
    })?;
    let mut reader = Reader::new(name, options);
    reader.walk(
        value,
        Place {
            top: Some(("record-1".to_string(), "record 1".to_string())),
            top_array: true,
            ..Place::default()
        },
    )?;
    reader.finish(true)
}

pub(super) fn read_json_lines(
    text: &str,
    name: &str,
    options: &ReadOptions,
) -> Result<Vec<ParsedDocument>> {
    let mut reader = Reader::new(name, options);
    let mut any_line = false;
    for (line_index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        any_line = true;
        let where_ = format!("line {}", line_index + 1);
        let value: Node = serde_json::from_str(line).map_err(|err| {
            ReadError::malformed(name, format!("{where_}: invalid JSON object: {err}"))
        })?;
        // Each line is a record, as an item of an array is. One keeps its historical
        // `record-N` id; records a line holds are found under `line-N/...`.
        let top_id = format!("record-{}", reader.documents.len() + 1);
        reader.walk(
            value,
            Place {
                path: vec![format!("line-{}", line_index + 1)],
                in_array: true,
                top: Some((top_id, where_)),
                ..Place::default()
            },
        )?;
    }
    // A file of blank lines holds nothing to find, so that is no error.
    reader.finish(any_line)
}

/// A JSON value that keeps the file's field order, which writing a record out as a line
/// needs (`serde_json::Map` sorts its keys unless its `preserve_order` feature is on).
#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> std::result::Result<Node, E> {
        Ok(Node::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> std::result::Result<Node, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> std::result::Result<Node, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> std::result::Result<Node, E> {
        Ok(Number::from_f64(value).map_or(Node::Null, Node::Number))
    }

    fn visit_str<E>(self, value: &str) -> std::result::Result<Node, E> {
        Ok(Node::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> std::result::Result<Node, E> {
        Ok(Node::String(value))
    }

    fn visit_unit<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node, A::Error> {
        let mut fields: Vec<(String, Node)> = Vec::new();
        // Looking keys up by scanning is quadratic; large objects get an index.
        let mut index: Option<HashMap<String, usize>> = None;
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            let existing = match &index {
                Some(index) => index.get(&key).copied(),
                None => fields.iter().position(|(existing, _)| *existing == key),
            };
            match existing {
                // A repeated key keeps its first place and its last value, as serde_json does.
                Some(at) => fields[at].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), fields.len());
                    }
                    fields.push((key, value));
                    if index.is_none() && fields.len() > 16 {
                        index = Some(
                            fields
                                .iter()
                                .enumerate()
                                .map(|(at, (key, _))| (key.clone(), at))
                                .collect(),
                        );
                    }
                }
            }
        }
        Ok(Node::Object(fields))
    }
}

impl Node {
    fn is_scalar(&self) -> bool {
        !matches!(self, Node::Array(_) | Node::Object(_))
    }

    fn is_scalar_list(&self) -> bool {
        matches!(self, Node::Array(items) if items.iter().all(Node::is_scalar))
    }

    /// An array with objects or arrays in it: records, not a value.
    fn holds_records(&self) -> bool {
        matches!(self, Node::Array(items) if items.iter().any(|item| !item.is_scalar()))
    }

    /// An array of flat objects without titles or text (and maybe scalars): details of the
    /// record it is in rather than records of their own.
    fn is_detail_list(&self) -> bool {
        matches!(self, Node::Array(items) if items.iter().all(|item| match item {
            Node::Object(fields) => {
                fields.iter().all(|(_, value)| value.is_scalar() || value.is_scalar_list())
                    && !has_title(fields)
                    && !has_text_field(fields)
            }
            other => other.is_scalar(),
        }))
    }

    fn is_metadata_value(&self) -> bool {
        match self {
            Node::String(_) | Node::Number(_) | Node::Bool(_) => true,
            Node::Array(items) => items.iter().all(|item| matches!(item, Node::String(_))),
            Node::Null | Node::Object(_) => false,
        }
    }

    fn is_number_like(&self) -> bool {
        match self {
            Node::Number(_) | Node::Bool(_) => true,
            Node::String(text) => {
                text.contains(|c: char| c.is_ascii_digit()) && text.trim().parse::<f64>().is_ok()
            }
            Node::Array(items) => !items.is_empty() && items.iter().all(Node::is_number_like),
            Node::Null | Node::Object(_) => false,
        }
    }

    /// A scalar as text: `None` for null, empty strings and non-scalars.
    fn scalar_text(&self) -> Option<String> {
        let text = match self {
            Node::String(text) => normalize_whitespace(text),
            Node::Number(number) => number.to_string(),
            Node::Bool(true) => "yes".to_string(),
            Node::Bool(false) => "no".to_string(),
            Node::Null | Node::Array(_) | Node::Object(_) => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// The texts of a scalar or of a list of scalars.
    fn scalar_texts(&self) -> Vec<String> {
        match self {
            Node::Array(items) => items.iter().filter_map(Node::scalar_text).collect(),
            other => other.scalar_text().into_iter().collect(),
        }
    }

    /// As a `serde_json::Value`, `depth_left` levels deep; deeper values become null (only
    /// scalars and string lists become metadata, so nothing kept is lost).
    fn into_value(self, depth_left: usize) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(value) => Value::Bool(value),
            Node::Number(number) => Value::Number(number),
            Node::String(text) => Value::String(text),
            _ if depth_left == 0 => Value::Null,
            Node::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| item.into_value(depth_left - 1))
                    .collect(),
            ),
            Node::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key, value.into_value(depth_left - 1)))
                    .collect(),
            ),
        }
    }

    fn to_metadata_value(&self) -> Value {
        match self {
            Node::String(text) => Value::String(text.clone()),
            Node::Number(number) => Value::Number(number.clone()),
            Node::Bool(value) => Value::Bool(*value),
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|item| match item {
                        Node::String(text) => Some(Value::String(text.clone())),
                        _ => None,
                    })
                    .collect(),
            ),
            Node::Null | Node::Object(_) => Value::Null,
        }
    }
}

/// Where a value sits in the file.
#[derive(Debug, Clone, Default)]
struct Place {
    /// Object keys and array positions (from 1) down to here: the id of a record without one.
    path: Vec<String>,
    /// Headings of the enclosing objects and the keys on the way, outermost first.
    section: Vec<String>,
    /// The key this value, or the array it is in, sits under.
    key: Option<String>,
    /// Its position in its array, from 1.
    position: Option<usize>,
    /// Whether it is an item of an array or a line of JSON Lines (so an object here is a
    /// record).
    in_array: bool,
    /// The id and error place of the file's own records (`record-N`, "record N" or
    /// "line N"), which keep those they always had.
    top: Option<(String, String)>,
    /// Whether this array's items are the file's own records (a top-level JSON array).
    top_array: bool,
}

impl Place {
    fn id(&self) -> String {
        match &self.top {
            Some((id, _)) => id.clone(),
            None => self.path.join("/"),
        }
    }

    fn where_(&self) -> String {
        match &self.top {
            Some((_, where_)) => where_.clone(),
            None => format!("record {}", self.path.join("/")),
        }
    }

    fn under_key(&self, key: &str) -> Place {
        let mut place = Place {
            path: self.path.clone(),
            section: self.section.clone(),
            key: Some(key.to_string()),
            ..Place::default()
        };
        place.path.push(key.to_string());
        if let Some(heading) = heading_from_key(key) {
            place.section.push(heading);
        }
        place
    }

    fn item(&self, index: usize) -> Place {
        let position = index + 1;
        let mut place = Place {
            path: self.path.clone(),
            section: self.section.clone(),
            key: self.key.clone(),
            position: Some(position),
            in_array: true,
            top: self
                .top_array
                .then(|| (format!("record-{position}"), format!("record {position}"))),
            top_array: false,
        };
        place.path.push(position.to_string());
        place
    }

    /// A title for a record that has none: its key and position, else the file's.
    fn fallback_title(&self, name: &str, record_id: &str, explicit_id: bool) -> String {
        match (&self.key, explicit_id) {
            (Some(key), false) => {
                let heading = heading_from_key(key).unwrap_or_else(|| key.clone());
                match self.position {
                    Some(position) => format!("{heading} {position}"),
                    None => heading,
                }
            }
            _ => format!("{} {record_id}", super::title_from_name(name)),
        }
    }
}

enum Kind {
    /// Has a text field: read as it always was.
    Text,
    /// Written out from its fields.
    Fields,
    /// Holds records.
    Container,
}

fn classify(fields: &[(String, Node)], place: &Place) -> Kind {
    if has_text_field(fields) {
        return Kind::Text;
    }
    let in_array = place.in_array;
    if fields.iter().any(|(_, value)| value.holds_records()) {
        // A record's own lists of small untitled objects (sittings, prices by season) are
        // details of it; the file's top object holds the file's records.
        let root = place.top.is_some() && !in_array;
        let record_like = in_array || (has_title(fields) && !root);
        let details = fields
            .iter()
            .all(|(_, value)| !value.holds_records() || value.is_detail_list());
        return if record_like && details {
            Kind::Fields
        } else {
            Kind::Container
        };
    }
    let nested = |(key, value): &&(String, Node)| {
        matches!(value, Node::Object(_)) && key.as_str() != "metadata"
    };
    if in_array || !fields.iter().any(|field| nested(&field)) || has_title(fields) {
        return Kind::Fields;
    }
    // An untitled object of objects maps keys to records; one that mixes objects with
    // scalars is one thing described in parts.
    if fields
        .iter()
        .all(|field| nested(&field) || matches!(field.1, Node::Null))
    {
        Kind::Container
    } else {
        Kind::Fields
    }
}

/// Whether the text field read as before (the first of them present) holds text.
fn has_text_field(fields: &[(String, Node)]) -> bool {
    TEXT_FIELDS
        .iter()
        .find_map(|text_field| get(fields, text_field))
        .is_some_and(|value| matches!(value, Node::String(text) if !text.trim().is_empty()))
}

fn has_title(fields: &[(String, Node)]) -> bool {
    title_index(fields).is_some()
}

/// The first title field present, if it holds a non-empty string.
fn title_index(fields: &[(String, Node)]) -> Option<usize> {
    let at = TITLE_FIELDS
        .iter()
        .find_map(|title| fields.iter().position(|(key, _)| key == title))?;
    matches!(&fields[at].1, Node::String(text) if !text.trim().is_empty()).then_some(at)
}

fn get<'a>(fields: &'a [(String, Node)], key: &str) -> Option<&'a Node> {
    fields
        .iter()
        .find(|(existing, _)| existing == key)
        .map(|(_, value)| value)
}

fn take_first_node(fields: &mut Vec<(String, Node)>, keys: &[&str]) -> Option<Node> {
    keys.iter().find_map(|key| {
        let at = fields.iter().position(|(existing, _)| existing == key)?;
        Some(fields.remove(at).1)
    })
}

struct Reader<'a> {
    name: &'a str,
    options: &'a ReadOptions,
    documents: Vec<ParsedDocument>,
}

impl<'a> Reader<'a> {
    fn new(name: &'a str, options: &'a ReadOptions) -> Self {
        Self {
            name,
            options,
            documents: Vec::new(),
        }
    }

    fn id_fields(&self) -> Vec<&'a str> {
        match &self.options.id_field {
            Some(field) => vec![field.as_str()],
            None => ID_FIELDS.to_vec(),
        }
    }

    fn finish(self, expect_records: bool) -> Result<Vec<ParsedDocument>> {
        if self.documents.is_empty() && expect_records {
            return Err(ReadError::malformed(
                self.name,
                "no records found (no objects with fields, and no strings or numbers)",
            ));
        }
        check_unique(&self.documents, self.name)?;
        Ok(self.documents)
    }

    /// Finds the records in `root`, depth first in file order. An explicit stack rather than
    /// recursion, so the walk's depth is not bounded by the thread's stack.
    fn walk(&mut self, root: Node, place: Place) -> Result<()> {
        let mut stack = vec![(root, place)];
        while let Some((node, place)) = stack.pop() {
            match node {
                Node::Object(fields) => match classify(&fields, &place) {
                    Kind::Text => {
                        let document = self.text_record(fields, &place)?;
                        self.documents.push(document);
                    }
                    Kind::Fields => {
                        if let Some(document) = self.fields_record(fields, &place, None)? {
                            self.documents.push(document);
                        }
                    }
                    Kind::Container => {
                        let (mut own, children): (Vec<_>, Vec<_>) =
                            fields.into_iter().partition(|(key, value)| {
                                value.is_scalar()
                                    || value.is_scalar_list()
                                    || (key == "metadata" && matches!(value, Node::Object(_)))
                            });
                        let heading = self.take_heading(&mut own);
                        let mut inner = place.clone();
                        if let Some((_, heading)) = &heading {
                            inner.section.push(heading.clone());
                        }
                        if self.has_content(&own)
                            && let Some(document) = self.fields_record(own, &place, heading)?
                        {
                            self.documents.push(document);
                        }
                        for (key, child) in children.into_iter().rev() {
                            stack.push((child, inner.under_key(&key)));
                        }
                    }
                },
                Node::Array(items) if items.iter().all(Node::is_scalar) => {
                    let blocks = items.iter().filter_map(Node::scalar_text).collect();
                    if let Some(document) = self.plain_document(blocks, &place) {
                        self.documents.push(document);
                    }
                }
                Node::Array(items) => {
                    for (index, item) in items.into_iter().enumerate().rev() {
                        if !matches!(item, Node::Null) {
                            stack.push((item, place.item(index)));
                        }
                    }
                }
                Node::String(text) => {
                    let blocks = text
                        .split("\n\n")
                        .map(normalize_whitespace)
                        .filter(|paragraph| !paragraph.is_empty())
                        .collect();
                    if let Some(document) = self.plain_document(blocks, &place) {
                        self.documents.push(document);
                    }
                }
                scalar => {
                    let blocks = scalar.scalar_text().into_iter().collect();
                    if let Some(document) = self.plain_document(blocks, &place) {
                        self.documents.push(document);
                    }
                }
            }
        }
        Ok(())
    }

    /// The heading of an object that holds records: its title, else a string that reads
    /// like a name (a programme's, a day) rather than a code or a timestamp: the first with
    /// several words, else the first capitalised one, or a day or date. Returns the field's
    /// key and the heading.
    fn take_heading(&self, fields: &mut Vec<(String, Node)>) -> Option<(String, String)> {
        let id_fields = self.id_fields();
        let candidate = |(key, value): &(String, Node)| {
            let name = field_name(key);
            let Node::String(text) = value else {
                return None;
            };
            let text = text.trim();
            let usable = !text.is_empty()
                && text.chars().count() <= LONG_VALUE_CHARS
                && !text.contains('@')
                && !text.contains("://")
                && !id_fields.contains(&key.as_str())
                && !FREE_TEXT_FIELDS.contains(&name.as_str())
                && !TEXT_FIELDS.contains(&name.as_str());
            let named = text.starts_with(char::is_uppercase) && text.chars().count() > 3;
            (usable && (named || WHEN_FIELDS.contains(&name.as_str()))).then(|| text.contains(' '))
        };
        let at = title_index(fields)
            .or_else(|| {
                fields
                    .iter()
                    .position(|field| candidate(field) == Some(true))
            })
            .or_else(|| fields.iter().position(|field| candidate(field).is_some()))?;
        let (key, value) = fields.remove(at);
        let Node::String(heading) = value else {
            unreachable!("headings are strings")
        };
        Some((key, normalize_whitespace(&heading)))
    }

    /// Whether fields hold anything to read besides an id.
    fn has_content(&self, fields: &[(String, Node)]) -> bool {
        let id_fields = self.id_fields();
        fields.iter().any(|(key, value)| {
            !id_fields.contains(&key.as_str())
                && key != "metadata"
                && !value.scalar_texts().is_empty()
        })
    }

    /// The record's id: its id field, validated as always, else the one its place gives.
    fn record_id(&self, fields: &mut Vec<(String, Node)>, place: &Place) -> Result<(String, bool)> {
        match take_first_node(fields, &self.id_fields()) {
            Some(Node::String(id)) if !id.trim().is_empty() => Ok((id, true)),
            Some(Node::Number(id)) => Ok((id.to_string(), true)),
            Some(_) => Err(ReadError::malformed(
                self.name,
                format!(
                    "{}: the id must be a non-empty string or a number",
                    place.where_()
                ),
            )),
            None => Ok((place.id(), false)),
        }
    }

    /// A record with a text field, read exactly as such records always were; below the top
    /// it also gets its section path, named after its text.
    fn text_record(&self, fields: Vec<(String, Node)>, place: &Place) -> Result<ParsedDocument> {
        let details = self.record_details(&fields);
        let record: Map<String, Value> = fields
            .into_iter()
            .map(|(key, value)| (key, value.into_value(MAX_NESTED_DEPTH)))
            .collect();
        let mut document = record_document(record, self.name, place, self.options)?;
        // The facts an export keeps in fields of their own (an extension, a price, opening
        // hours) are what guests ask for: they are read after the text, not only kept as
        // metadata that neither search nor an answer sees.
        if let (Some(details), Some(last)) = (details, document.blocks.last_mut()) {
            last.text = format!("{} {details}", end_sentence(&last.text));
        }
        if !place.section.is_empty() {
            for block in &mut document.blocks {
                block.section = place.section.clone();
            }
            if let Some(last) = document.blocks.last_mut() {
                append_context(&mut last.text, &place.section);
            }
        }
        Ok(document)
    }

    /// The fields of a record with a text field other than its text, title, id and
    /// `metadata`, written out as a record without one is; `None` when there are none.
    fn record_details(&self, fields: &[(String, Node)]) -> Option<String> {
        let id_fields = self.id_fields();
        let first_of = |keys: &[&str]| {
            keys.iter()
                .find_map(|wanted| fields.iter().position(|(key, _)| key == wanted))
        };
        let title = first_of(TITLE_FIELDS);
        let skipped = [first_of(TEXT_FIELDS), title];
        let rest: Vec<(String, Node)> = fields
            .iter()
            .enumerate()
            .filter(|(at, (key, _))| {
                !skipped.contains(&Some(*at))
                    && key != "metadata"
                    && !CLASSIFYING_FIELDS.contains(&key_words(key).as_str())
            })
            .map(|(_, field)| field.clone())
            .collect();
        let described = describe(&rest, None, &id_fields, 0);
        let line = described.line();
        let mut pieces = Vec::new();
        if !line.is_empty() {
            // Named, so that the line says whose extension or price it is when an answer
            // quotes it alone.
            pieces.push(match title.and_then(|at| fields[at].1.scalar_text()) {
                Some(title) if !title.trim().is_empty() => {
                    format!("{} — {line}", normalize_whitespace(&title))
                }
                _ => capitalize(&line),
            });
        }
        pieces.extend(described.sentences);
        pieces.retain(|piece| !piece.trim().is_empty());
        (!pieces.is_empty()).then(|| {
            pieces
                .iter()
                .map(|piece| end_sentence(piece))
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    /// A record without a text field, written out from its fields; `None` when it holds
    /// nothing to read. `heading` is the title (and the field it came from) of an object that
    /// holds records.
    fn fields_record(
        &self,
        mut fields: Vec<(String, Node)>,
        place: &Place,
        heading: Option<(String, String)>,
    ) -> Result<Option<ParsedDocument>> {
        let (record_id, explicit_id) = self.record_id(&mut fields, place)?;
        let mut metadata = Metadata::new();
        let title = match heading {
            Some((key, heading)) => {
                if !TITLE_FIELDS.contains(&key.as_str()) {
                    metadata.insert(key, Value::String(heading.clone()));
                }
                Some(heading)
            }
            None => match take_first_node(&mut fields, TITLE_FIELDS) {
                Some(Node::String(title)) if !title.trim().is_empty() => {
                    Some(normalize_whitespace(&title))
                }
                _ => None,
            },
        };
        if let Some(at) = fields.iter().position(|(key, _)| key == "metadata")
            && let (_, Node::Object(explicit)) = fields.remove(at)
        {
            for (key, value) in explicit {
                if value.is_metadata_value() {
                    metadata.insert(key, value.to_metadata_value());
                }
            }
        }
        for (key, value) in &fields {
            add_metadata(&mut metadata, key, value, 0);
        }
        let id_fields = self.id_fields();
        let described = describe(&fields, None, &id_fields, 0);
        let line = described.line();
        let mut pieces: Vec<String> = Vec::new();
        match (&title, line.is_empty()) {
            (Some(title), false) => pieces.push(format!("{title} — {line}")),
            (Some(title), true) => pieces.push(title.clone()),
            (None, false) => pieces.push(line),
            (None, true) => {}
        }
        pieces.extend(described.sentences);
        if pieces.is_empty() {
            return Ok(None);
        }
        let mut text = if pieces.len() == 1 {
            pieces.remove(0)
        } else {
            pieces
                .iter()
                .map(|piece| end_sentence(piece))
                .collect::<Vec<_>>()
                .join(" ")
        };
        append_context(&mut text, &place.section);
        Ok(Some(ParsedDocument {
            id: format!("{}#{record_id}", self.name),
            title: title
                .unwrap_or_else(|| place.fallback_title(self.name, &record_id, explicit_id)),
            source: self.name.to_string(),
            metadata,
            blocks: vec![Block {
                section: place.section.clone(),
                text: normalize_whitespace(&text),
                record: false,
            }],
        }))
    }

    /// A string, a number or a list of them: their text, one block each.
    fn plain_document(&self, mut blocks: Vec<String>, place: &Place) -> Option<ParsedDocument> {
        let last = blocks.last_mut()?;
        append_context(last, &place.section);
        let record_id = place.id();
        Some(ParsedDocument {
            id: format!("{}#{record_id}", self.name),
            title: place.fallback_title(self.name, &record_id, false),
            source: self.name.to_string(),
            metadata: Metadata::new(),
            blocks: blocks
                .into_iter()
                .map(|text| Block {
                    section: place.section.clone(),
                    text,
                    record: false,
                })
                .collect(),
        })
    }
}

/// A record with a text field, as such records have always been read.
fn record_document(
    mut record: Map<String, Value>,
    name: &str,
    place: &Place,
    options: &ReadOptions,
) -> Result<ParsedDocument> {
    let where_ = place.where_();
    let id_fields: Vec<&str> = match &options.id_field {
        Some(field) => vec![field.as_str()],
        None => ID_FIELDS.to_vec(),
    };
    let (record_id, explicit_id) = match take_first(&mut record, &id_fields) {
        Some(Value::String(id)) if !id.trim().is_empty() => (id, true),
        Some(Value::Number(id)) => (id.to_string(), true),
        Some(_) => {
            return Err(ReadError::malformed(
                name,
                format!("{where_}: the id must be a non-empty string or a number"),
            ));
        }
        None => (place.id(), false),
    };
    let text = match take_first(&mut record, TEXT_FIELDS) {
        Some(Value::String(text)) if !text.trim().is_empty() => text,
        _ => {
            return Err(ReadError::malformed(
                name,
                format!(
                    "{where_}: no text (expected a non-empty string in one of: {})",
                    TEXT_FIELDS.join(", ")
                ),
            ));
        }
    };
    let title = match take_first(&mut record, TITLE_FIELDS) {
        Some(Value::String(title)) if !title.trim().is_empty() => title,
        _ => place.fallback_title(name, &record_id, explicit_id),
    };
    let mut metadata = Metadata::new();
    if let Some(Value::Object(explicit)) = record.remove("metadata") {
        for (key, value) in explicit {
            if is_metadata_value(&value) {
                metadata.insert(key, value);
            }
        }
    }
    for (key, value) in record {
        if is_metadata_value(&value) {
            metadata.entry(key).or_insert(value);
        }
    }
    Ok(ParsedDocument {
        id: format!("{name}#{record_id}"),
        title,
        source: name.to_string(),
        metadata,
        blocks: text
            .split("\n\n")
            .filter(|paragraph| !paragraph.trim().is_empty())
            .map(|paragraph| Block {
                section: Vec::new(),
                text: normalize_whitespace(paragraph),
                record: false,
            })
            .collect(),
    })
}

fn take_first(record: &mut Map<String, Value>, fields: &[&str]) -> Option<Value> {
    fields.iter().find_map(|field| record.remove(*field))
}

fn is_metadata_value(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        Value::Null | Value::Object(_) => false,
    }
}

/// Scalars and string lists under their key; those of nested objects under dotted keys
/// (`hours.opens`), down to [`MAX_NESTED_DEPTH`].
fn add_metadata(metadata: &mut Metadata, key: &str, value: &Node, depth: usize) {
    if value.is_metadata_value() {
        metadata
            .entry(key.to_string())
            .or_insert_with(|| value.to_metadata_value());
    } else if let Node::Object(fields) = value
        && depth < MAX_NESTED_DEPTH
    {
        for (inner, value) in fields {
            add_metadata(metadata, &format!("{key}.{inner}"), value, depth + 1);
        }
    }
}

/// A part of a record's line.
enum Part {
    /// A day or date, run together with the times after it.
    When(String),
    /// A range, "18:00–19:00".
    Range(String),
    Plain(String),
}

/// Fields written out: the items of a line and the sentences after it.
#[derive(Default)]
struct Described {
    parts: Vec<Part>,
    sentences: Vec<String>,
}

impl Described {
    /// The parts joined by ", ", a day or date and the times after it by a space.
    fn line(&self) -> String {
        let mut items: Vec<String> = Vec::new();
        let mut after_when = false;
        for part in &self.parts {
            let (text, timing) = match part {
                Part::When(text) | Part::Range(text) => (text, true),
                Part::Plain(text) => (text, false),
            };
            match items.last_mut() {
                Some(last) if after_when && timing => {
                    last.push(' ');
                    last.push_str(text);
                }
                _ => items.push(text.clone()),
            }
            after_when = matches!(part, Part::When(_));
        }
        items.join(", ")
    }

    /// Everything on one line (for objects inside a record).
    fn inline(self) -> String {
        let mut items = vec![self.line()];
        items.extend(self.sentences);
        items.retain(|item| !item.is_empty());
        items.join(", ")
    }
}

/// Writes out `fields` (but the one at `skip`, and ids) in file order; `depth` counts the
/// objects around them inside the record.
fn describe(
    fields: &[(String, Node)],
    skip: Option<usize>,
    id_fields: &[&str],
    depth: usize,
) -> Described {
    let names: Vec<String> = fields.iter().map(|(key, _)| field_name(key)).collect();
    let usable = |at: usize| Some(at) != skip && fields[at].1.scalar_text().is_some();
    let mut ranges: Vec<Option<String>> = vec![None; fields.len()];
    let mut in_range = vec![false; fields.len()];
    for (from, to) in RANGE_FIELDS {
        let find = |wanted: &str| {
            (0..fields.len()).find(|&at| names[at] == wanted && usable(at) && !in_range[at])
        };
        let (Some(first), Some(second)) = (find(from), find(to)) else {
            continue;
        };
        let (Some(start), Some(end)) = (
            fields[first].1.scalar_text(),
            fields[second].1.scalar_text(),
        ) else {
            continue;
        };
        // Spaced when an end has spaces or hyphens of its own: "1 Dec – 6 Apr".
        let dash = if [&start, &end]
            .iter()
            .any(|value| value.contains(char::is_whitespace) || value.contains('-'))
        {
            " – "
        } else {
            "–"
        };
        in_range[first] = true;
        in_range[second] = true;
        ranges[first.min(second)] = Some(format!("{start}{dash}{end}"));
    }
    let mut described = Described::default();
    for (at, (key, value)) in fields.iter().enumerate() {
        if let Some(range) = ranges[at].take() {
            described.parts.push(Part::Range(range));
            continue;
        }
        let name = names[at].as_str();
        if in_range[at] || Some(at) == skip || id_fields.contains(&key.as_str()) {
            continue;
        }
        match value {
            Node::Null => {}
            Node::Object(inner) => {
                if depth >= MAX_NESTED_DEPTH {
                    continue;
                }
                let text = inline_object(inner, id_fields, depth + 1);
                if text.is_empty() {
                    continue;
                }
                if depth == 0 {
                    described
                        .sentences
                        .push(format!("{}: {text}", capitalize(&key_words(key))));
                } else {
                    described
                        .parts
                        .push(Part::Plain(format!("{}: ({text})", key_words(key))));
                }
            }
            Node::Array(items) if !value.is_scalar_list() => {
                let texts: Vec<String> = items
                    .iter()
                    .map(|item| inline_node(item, id_fields, depth + 1))
                    .filter(|text| !text.is_empty())
                    .collect();
                if texts.is_empty() {
                    continue;
                }
                let text = texts.join("; ");
                if depth == 0 {
                    described
                        .sentences
                        .push(format!("{}: {text}", capitalize(&key_words(key))));
                } else {
                    described
                        .parts
                        .push(Part::Plain(format!("{}: ({text})", key_words(key))));
                }
            }
            scalar => {
                let texts = scalar.scalar_texts();
                if texts.is_empty() {
                    continue;
                }
                if FREE_TEXT_FIELDS.contains(&name) || TEXT_FIELDS.contains(&name) {
                    described.sentences.extend(texts);
                    continue;
                }
                let joined = texts.join(", ");
                let worded = !scalar.is_number_like();
                if worded && WHEN_FIELDS.contains(&name) {
                    described.parts.push(Part::When(joined));
                } else if worded && (PLACE_FIELDS.contains(&name) || PRICE_FIELDS.contains(&name)) {
                    described.parts.push(Part::Plain(joined));
                } else if joined.chars().count() > LONG_VALUE_CHARS && depth == 0 {
                    described
                        .sentences
                        .push(format!("{}: {joined}", capitalize(&key_words(key))));
                } else {
                    described
                        .parts
                        .push(Part::Plain(format!("{}: {joined}", key_words(key))));
                }
            }
        }
    }
    described
}

/// An object inside a record on one line: its title, then its fields.
fn inline_object(fields: &[(String, Node)], id_fields: &[&str], depth: usize) -> String {
    let title = title_index(fields);
    let rest = describe(fields, title, id_fields, depth).inline();
    let title = title.and_then(|at| fields[at].1.scalar_text());
    match title {
        Some(title) if rest.is_empty() => title,
        Some(title) => format!("{title}, {rest}"),
        None => rest,
    }
}

/// An item of an array inside a record on one line.
fn inline_node(node: &Node, id_fields: &[&str], depth: usize) -> String {
    match node {
        Node::Object(fields) if depth <= MAX_NESTED_DEPTH => {
            inline_object(fields, id_fields, depth)
        }
        Node::Array(items) if depth <= MAX_NESTED_DEPTH => items
            .iter()
            .map(|item| inline_node(item, id_fields, depth + 1))
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.scalar_text().unwrap_or_default(),
    }
}

/// Names the enclosing headings after a record's text: " (Winter programme › Events)".
fn append_context(text: &mut String, section: &[String]) {
    if !section.is_empty() {
        text.push_str(" (");
        text.push_str(&section.join(" › "));
        text.push(')');
    }
}

fn end_sentence(text: &str) -> String {
    if text.ends_with(['.', '!', '?', '…']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

/// A key as words: `_`, camel case and `-` between letters split (`opening_hours` →
/// "opening hours", `startTime` → "start time", `check-in` → "check in"; `2025-12-24` stays).
fn key_words(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut words = String::new();
    for (at, &c) in chars.iter().enumerate() {
        let before = at.checked_sub(1).map(|before| chars[before]);
        let after = chars.get(at + 1).copied();
        let hyphen_in_word = c == '-'
            && before.is_some_and(char::is_alphabetic)
            && after.is_some_and(char::is_alphabetic);
        if c == '_' || c.is_whitespace() || hyphen_in_word {
            words.push(' ');
        } else if c.is_uppercase()
            && before.is_some_and(char::is_lowercase)
            && after.is_none_or(char::is_lowercase)
        {
            words.push(' ');
            words.extend(c.to_lowercase());
        } else {
            words.push(c);
        }
    }
    normalize_whitespace(&words)
}

/// A key as compared with the field groups above: lower-case words joined by `_`.
fn field_name(key: &str) -> String {
    key_words(key).to_lowercase().replace(' ', "_")
}

/// A key as a heading: `opening_hours` → "Opening hours".
fn heading_from_key(key: &str) -> Option<String> {
    let words = key_words(key);
    (!words.is_empty()).then(|| capitalize(&words))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn check_unique(documents: &[ParsedDocument], name: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for document in documents {
        if !seen.insert(document.id.as_str()) {
            return Err(ReadError::malformed(
                name,
                format!("duplicate record id {:?}", document.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, name: &str) -> Vec<ParsedDocument> {
        read_json(text, name, &ReadOptions::default()).unwrap()
    }

    fn sections(document: &ParsedDocument) -> Vec<&str> {
        document.blocks[0]
            .section
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn json_lines_records_with_metadata() {
        let text = "{\"id\": \"pool\", \"title\": \"Is the pool heated?\", \"text\": \"Yes, 28 °C.\", \"category\": \"wellness\", \"tags\": [\"pool\"], \"nested\": {\"x\": 1}}\n\n\
                    {\"question\": \"Pets?\", \"answer\": \"Dogs up to 15 kg.\", \"metadata\": {\"fee\": 25}}\n";
        let docs = read_json_lines(text, "faq.jsonl", &ReadOptions::default()).unwrap();
        assert_eq!(docs[0].id, "faq.jsonl#pool");
        assert_eq!(docs[0].title, "Is the pool heated?");
        assert_eq!(docs[0].blocks[0].text, "Yes, 28 °C. Nested: x: 1.");
        assert_eq!(docs[1].blocks[0].text, "Dogs up to 15 kg.");
        assert_eq!(docs[0].metadata["tags"], serde_json::json!(["pool"]));
        assert!(!docs[0].metadata.contains_key("nested"));
        assert_eq!(docs[1].id, "faq.jsonl#record-2");
        assert_eq!(docs[1].title, "Pets?");
        assert_eq!(docs[1].metadata["fee"], serde_json::json!(25));
    }

    #[test]
    fn json_arrays_and_single_objects() {
        let docs = read_json(
            r#"[{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]"#,
            "e.json",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(docs[1].id, "e.json#2");
        let docs = read_json(r#"{"text": "only"}"#, "one.json", &ReadOptions::default()).unwrap();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn malformed_records_name_their_place() {
        let err = read_json_lines(
            "{\"text\": \"ok\"}\n{\"text\": \n",
            "f.jsonl",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("f.jsonl: line 2: invalid JSON object"),
            "{err}"
        );
        let err = read_json_lines(
            "{\"id\": {\"x\": 1}, \"title\": \"t\"}\n",
            "f.jsonl",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 1: the id must be"), "{err}");
        let err = read_json(
            r#"{"events": [{"id": [1], "title": "Ski race"}]}"#,
            "g.json",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("record events/1: the id must be"),
            "{err}"
        );
        let err = read_json("{\"text\": ", "h.json", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("invalid JSON at line 1"), "{err}");
        let err = read_json(
            r#"[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]"#,
            "d.json",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate record id"), "{err}");
    }

    #[test]
    fn event_calendar_records_read_as_lines_in_their_context() {
        let text = r#"{
          "programme": "Winter programme 2025/26",
          "hotel": {"name": "Hotel Alpenrose", "village": "Seefeld", "phone": "+43 5212 2290"},
          "events": [
            {"title": "Welcome mulled wine with the Hörtnagl family", "day": "Monday",
             "start": "18:00", "end": "19:00", "location": "Rosenbar", "price": "free",
             "notes": "Glühwein and non-alcoholic punch"},
            {"title": "Torchlight hike", "day": "Tuesday", "start": "19:30", "end": "21:00",
             "location": "Meet at reception", "price": 15, "max_guests": 20,
             "tags": ["outdoor", "family"]}
          ],
          "weekly": {
            "monday": [{"title": "Sunrise yoga", "start": "07:30", "end": "08:15", "location": "Spa"}],
            "friday": [{"day": "Friday", "from": "21:00", "to": "23:00", "location": "Rosenbar",
                        "details": "Live zither music"}]
          }
        }"#;
        let docs = read(text, "winter/calendar.json");
        let ids: Vec<&str> = docs.iter().map(|doc| doc.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "winter/calendar.json#hotel",
                "winter/calendar.json#events/1",
                "winter/calendar.json#events/2",
                "winter/calendar.json#weekly/monday/1",
                "winter/calendar.json#weekly/friday/1",
            ]
        );
        let wine = &docs[1];
        assert_eq!(wine.title, "Welcome mulled wine with the Hörtnagl family");
        assert_eq!(
            wine.full_text(),
            "Welcome mulled wine with the Hörtnagl family — Monday 18:00–19:00, Rosenbar, free. \
             Glühwein and non-alcoholic punch. (Winter programme 2025/26 › Events)"
        );
        assert_eq!(sections(wine), ["Winter programme 2025/26", "Events"]);
        assert_eq!(wine.metadata["day"], "Monday");
        assert_eq!(wine.metadata["start"], "18:00");
        assert_eq!(wine.metadata["price"], "free");
        assert!(!wine.metadata.contains_key("title"));
        let hike = &docs[2];
        assert_eq!(
            hike.full_text(),
            "Torchlight hike — Tuesday 19:30–21:00, Meet at reception, price: 15, max guests: 20, \
             tags: outdoor, family (Winter programme 2025/26 › Events)"
        );
        assert_eq!(hike.metadata["price"], 15);
        assert_eq!(
            hike.metadata["tags"],
            serde_json::json!(["outdoor", "family"])
        );
        assert_eq!(
            docs[0].full_text(),
            "Hotel Alpenrose — village: Seefeld, phone: +43 5212 2290 \
             (Winter programme 2025/26 › Hotel)"
        );
        assert_eq!(
            sections(&docs[3]),
            ["Winter programme 2025/26", "Weekly", "Monday"]
        );
        assert!(
            docs[3]
                .full_text()
                .starts_with("Sunrise yoga — 07:30–08:15, Spa (")
        );
        let zither = &docs[4];
        assert_eq!(zither.title, "Friday 1");
        assert_eq!(
            zither.full_text(),
            "Friday 21:00–23:00, Rosenbar. Live zither music. \
             (Winter programme 2025/26 › Weekly › Friday)"
        );
        // Reading the file again gives the same documents, ids included.
        assert_eq!(read(text, "winter/calendar.json"), docs);
    }

    #[test]
    fn objects_holding_records_give_their_own_fields_a_document() {
        let text = r#"{"season": "Winter 2025/26", "valid_from": "1 December",
                       "valid_to": "6 April", "events": [{"title": "Ski race"}]}"#;
        let docs = read(text, "programme.json");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id, "programme.json#record-1");
        assert_eq!(docs[0].title, "Winter 2025/26");
        assert_eq!(docs[0].full_text(), "Winter 2025/26 — 1 December – 6 April");
        assert_eq!(docs[0].metadata["season"], "Winter 2025/26");
        assert_eq!(docs[1].full_text(), "Ski race (Winter 2025/26 › Events)");
        // Codes and timestamps are no headings.
        let text = r#"{"generated_at": "2025-11-01T10:00:00Z", "currency": "EUR",
                       "programme": "Winter programme 2025/26", "events": [{"title": "Ski race"}]}"#;
        let docs = read(text, "programme.json");
        assert_eq!(docs[0].title, "Winter programme 2025/26");
        assert_eq!(
            docs[0].full_text(),
            "Winter programme 2025/26 — generated at: 2025-11-01T10:00:00Z, currency: EUR"
        );
        assert_eq!(sections(&docs[1]), ["Winter programme 2025/26", "Events"]);
    }

    #[test]
    fn nested_objects_are_flattened_into_text_and_dotted_metadata() {
        let text = r#"{"name": "Tidewater Spa", "treatments": ["massage", "facial"],
                       "hours": {"opens": "09:00", "closes": "21:00"},
                       "contact": {"phone": "+353 41 555 2140", "email": "spa@example.com"}}"#;
        let docs = read(text, "spa.json");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].id, "spa.json#record-1");
        assert_eq!(
            docs[0].full_text(),
            "Tidewater Spa — treatments: massage, facial. Hours: 09:00–21:00. \
             Contact: phone: +353 41 555 2140, email: spa@example.com."
        );
        assert_eq!(docs[0].metadata["hours.opens"], "09:00");
        assert_eq!(docs[0].metadata["contact.email"], "spa@example.com");

        // An object of objects maps keys to records.
        let text = r#"{"rooms": {"classic": {"name": "Classic room", "size_m2": 22},
                                 "family_suite": {"name": "Family suite", "beds": {"king": 1, "single": 2}}}}"#;
        let docs = read(text, "rooms.json");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id, "rooms.json#rooms/classic");
        assert_eq!(
            docs[0].full_text(),
            "Classic room — size m2: 22 (Rooms › Classic)"
        );
        assert_eq!(sections(&docs[1]), ["Rooms", "Family suite"]);
        assert_eq!(
            docs[1].full_text(),
            "Family suite. Beds: king: 1, single: 2. (Rooms › Family suite)"
        );
        assert_eq!(docs[1].metadata["beds.single"], 2);

        // A record's list of small untitled objects is part of it.
        let text = r#"[{"title": "Christmas brunch", "opens": "10:00", "closes": "14:00",
                        "sittings": [{"at": "10:00", "seats": 40}, {"at": "12:00", "seats": 40}]}]"#;
        let docs = read(text, "brunch.json");
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0].full_text(),
            "Christmas brunch — 10:00–14:00. Sittings: at: 10:00, seats: 40; at: 12:00, seats: 40."
        );
    }

    #[test]
    fn strings_and_arrays_of_scalars_are_text() {
        let docs = read(
            r#"["Towels are at the pool.", "Robes are at the spa."]"#,
            "tips.json",
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].id, "tips.json#record-1");
        assert_eq!(
            docs[0].full_text(),
            "Towels are at the pool.\n\nRobes are at the spa."
        );
        let docs = read(r#""Quiet hours are 22:00 to 07:00.""#, "quiet.json");
        assert_eq!(docs[0].full_text(), "Quiet hours are 22:00 to 07:00.");
        let docs = read("[1, 2]", "numbers.json");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].full_text(), "1\n\n2");
        let docs = read_json_lines(
            "[\"a\", \"b\"]\n{\"title\": \"Ski race\", \"day\": \"Saturday\"}\n{\"events\": [{\"title\": \"Yoga\"}]}\n\
             {\"title\": \"Brunch\", \"sittings\": [{\"at\": \"10:00\"}]}\n",
            "mixed.jsonl",
            &ReadOptions::default(),
        )
        .unwrap();
        let ids: Vec<&str> = docs.iter().map(|doc| doc.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "mixed.jsonl#record-1",
                "mixed.jsonl#record-2",
                "mixed.jsonl#line-3/events/1",
                "mixed.jsonl#record-4",
            ]
        );
        assert_eq!(docs[1].full_text(), "Ski race — Saturday");
        assert_eq!(docs[2].full_text(), "Yoga (Events)");
        assert_eq!(docs[3].full_text(), "Brunch. Sittings: at: 10:00.");
    }

    #[test]
    fn records_with_a_text_field_read_their_other_fields_after_it() {
        let text = r#"[{"id": "pool", "title": "Pool", "text": "Heated to 28 °C.\n\nOpen   daily.",
                        "start": "07:00", "end": "22:00", "tags": ["pool"], "nested": {"x": 1}}]"#;
        let docs = read(text, "faq.json");
        let mut metadata = Metadata::new();
        metadata.insert("start".into(), "07:00".into());
        metadata.insert("end".into(), "22:00".into());
        metadata.insert("tags".into(), serde_json::json!(["pool"]));
        assert_eq!(
            docs,
            [ParsedDocument {
                id: "faq.json#pool".into(),
                title: "Pool".into(),
                source: "faq.json".into(),
                metadata,
                blocks: vec![
                    Block {
                        section: Vec::new(),
                        text: "Heated to 28 °C.".into(),
                        record: false,
                    },
                    // Guests ask for the facts kept in fields of their own.
                    Block {
                        section: Vec::new(),
                        text: "Open daily. Pool — 07:00–22:00. Nested: x: 1.".into(),
                        record: false,
                    },
                ],
            }]
        );
        let docs = read(r#"{"text": "only"}"#, "one.json");
        assert_eq!(docs[0].title, "One record-1");
        // Below the top, the same record also gets its place.
        let docs = read(
            r#"{"faq": [{"question": "Pets?", "answer": "Dogs welcome."}]}"#,
            "f.json",
        );
        assert_eq!(docs[0].id, "f.json#faq/1");
        assert_eq!(docs[0].title, "Pets?");
        assert_eq!(docs[0].full_text(), "Dogs welcome. (Faq)");
        assert_eq!(sections(&docs[0]), ["Faq"]);
    }

    #[test]
    fn empty_arrays_and_objects_give_no_documents() {
        let docs = read(
            r#"{"events": [], "weekly": {}, "hotel": {"name": "Alpenrose"}, "extra": [null, {}]}"#,
            "c.json",
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].full_text(), "Alpenrose (Hotel)");
        for empty in [
            "[]",
            "{}",
            r#"{"events": [], "weekly": {"monday": []}}"#,
            "null",
        ] {
            let err = read_json(empty, "empty.json", &ReadOptions::default()).unwrap_err();
            assert!(
                err.to_string().starts_with("empty.json: no records found"),
                "{empty}: {err}"
            );
        }
        let docs = read_json_lines("\n\n", "blank.jsonl", &ReadOptions::default()).unwrap();
        assert!(docs.is_empty());
    }

    #[test]
    fn deep_nesting_neither_panics_nor_overflows() {
        let depth = 100;
        let objects = format!(
            "{}{{\"title\": \"Deep\", \"x\": 1}}{}",
            "{\"level\": ".repeat(depth),
            "}".repeat(depth)
        );
        let docs = read(&objects, "deep.json");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].blocks[0].section.len(), depth);
        let arrays = format!("{}\"bottom\"{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(read(&arrays, "deep.json")[0].full_text(), "bottom");
        // Inside one record, deep objects are written out only so far.
        let record = format!(
            "[{{\"title\": \"Top\", \"a\": {}1{}}}]",
            "{\"b\": ".repeat(depth),
            "}".repeat(depth)
        );
        let docs = read(&record, "deep.json");
        assert!(docs[0].full_text().starts_with("Top"));
        // Deeper than serde_json parses is an error, not a crash.
        let too_deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = read_json(&too_deep, "deep.json", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("invalid JSON at line 1"), "{err}");
    }

    #[test]
    fn invalid_json_still_fails_with_its_position() {
        let err = read_json(
            "{\n  \"events\": [\n    {\"title\": \"x\",}\n  ]\n}",
            "bad.json",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.json: invalid JSON at line 3, column"),
            "{err}"
        );
        let err = read_json("not json", "bad.json", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("invalid JSON at line 1"), "{err}");
    }

    #[test]
    fn keys_read_as_words() {
        assert_eq!(key_words("opening_hours"), "opening hours");
        assert_eq!(key_words("startTime"), "start time");
        assert_eq!(key_words("check-in"), "check in");
        assert_eq!(key_words("2025-12-24"), "2025-12-24");
        assert_eq!(field_name("Start-Time"), "start_time");
    }
}
