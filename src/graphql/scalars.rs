//! Custom scalars: dates that keep their precision, and exact big integers.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};

use crate::model::{PartialDate, Precision};

/// A date as precise as the source gives it: `2008` (a year), `2009-03`
/// (a month), `2008-08-26` (a day) or `2008-08-07/2008-08-08` (a range).
/// Filters treat a date as the whole period it names. The forms are those of
/// EDTF level 0 (ISO 8601-1 dates and intervals); see `docs/scalars.md`.
#[Scalar(name = "PartialDate", specified_by_url = "https://www.loc.gov/standards/datetime/")]
impl ScalarType for PartialDate {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            // Bad input, not a server fault: the code says so, since an
            // input object's field is parsed as the resolver starts, past
            // the checks that give codes to errors before execution.
            Value::String(s) => PartialDate::parse(s)
                .map_err(|e| InputValueError::custom(e.to_string()).with_extension("code", super::BAD_USER_INPUT)),
            _ => Err(InputValueError::expected_type(value).with_extension("code", super::BAD_USER_INPUT)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl serde::Serialize for BigInt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.1 {
            // An input that is not a whole number goes on as written, so the
            // seed-format check refuses it naming the field at fault.
            Some(raw) => s.serialize_str(raw),
            None => s.serialize_i128(self.0),
        }
    }
}

/// A whole number of any size, kept exact (see the scalar's description).
/// The second field keeps an input that is not a whole number, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BigInt(pub i128, Option<Box<str>>);

impl BigInt {
    pub fn new(value: i128) -> BigInt {
        BigInt(value, None)
    }
}

/// A whole number of any size, sent as a decimal string (`"2800000000"`) so
/// that JavaScript clients keep it exact (`BigInt("2800000000")` reads it, as
/// ECMAScript's StringToBigInt specifies). Accepts a string or an Int as
/// input; see `docs/scalars.md`.
#[Scalar(name = "BigInt", specified_by_url = "https://tc39.es/ecma262/#sec-stringtobigint")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(s
                .trim()
                .parse::<i128>()
                .map(BigInt::new)
                .unwrap_or_else(|_| BigInt(0, Some(s.clone().into_boxed_str())))),
            Value::Number(n) => Ok(n
                .as_i64()
                .map(|n| BigInt::new(n as i128))
                .unwrap_or_else(|| BigInt(0, Some(n.to_string().into_boxed_str())))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// The period a partial date covers, for clients that need exact bounds.
/// Shareable: other subgraphs of a federated graph may serve the same type.
#[derive(SimpleObject, Clone)]
#[graphql(shareable)]
pub struct Period {
    /// How precisely the date is known.
    pub precision: Precision,
    /// The first day of the period, as `YYYY-MM-DD`.
    pub start: String,
    /// The last day of the period, as `YYYY-MM-DD` (the same as `start` for a single day).
    pub end: String,
}

impl From<&PartialDate> for Period {
    fn from(d: &PartialDate) -> Period {
        Period {
            precision: d.precision(),
            start: d.first_iso(),
            end: d.last_iso(),
        }
    }
}

/// An exact amount of money. Shareable: other subgraphs of a federated
/// graph may serve the same type.
#[derive(SimpleObject, Clone)]
#[graphql(shareable)]
pub struct Money {
    /// The amount in whole units of the currency (roubles, not kopecks), exact.
    pub amount: BigInt,
    /// The ISO-4217 currency code, such as `RUB`.
    pub currency: String,
}

impl From<&crate::model::Money> for Money {
    fn from(m: &crate::model::Money) -> Money {
        Money {
            amount: BigInt::new(m.amount as i128),
            currency: m.currency.to_string(),
        }
    }
}
