//! The write-ahead log: what makes a write durable before anyone can see it.
//!
//! A group of writes (see [`super::group`]) is encoded as one record,
//! appended to the current log file and synced (`fdatasync`) before it is
//! applied to sled; only then is it visible, announced and acknowledged.
//! sled is flushed later, at a checkpoint, after which the log files before
//! it are deleted. When a store opens (or reopens after a disk fault), the
//! records past sled's durable generation are applied again, in order.
//!
//! A record on disk is `length (u32 LE) ‖ CRC-32 of the payload (u32 LE) ‖
//! CRC-32 of a mark and those eight bytes (u32 LE) ‖ payload`, the payload
//! being postcard of [`Record`]: the generations the group covers and its
//! record writes, with trees named (not numbered), so a build that orders
//! its trees differently still reads the log. The header's own checksum
//! tells a damaged length from a record cut short, and the mark makes a
//! header of zeros invalid. A record cut short or garbled at the very end
//! of the last file, with nothing but zeros after it, is a write that never
//! completed (the process died mid-append, or the filesystem showed zeros
//! where it had not written yet): it is dropped. One that is damaged
//! anywhere else is reported as damage, and nothing after it is applied.
//!
//! Log files are `wal-<sequence>` in the data directory; a checkpoint starts
//! a new file and deletes the older ones once sled is flushed.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::sled_err;
use super::{read_u64, Handles, StoreError, META_GENERATION};

/// Bytes of a record's header: its payload's length and CRC-32, and the
/// header's own CRC-32.
const HEADER_BYTES: usize = 12;

/// Hashed into every header's checksum, so that zeros never make a header.
const HEADER_MARK: &[u8] = b"diplograph-wal";

/// The checksum of a header's first eight bytes.
fn header_crc(first_eight: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(HEADER_MARK);
    hasher.update(first_eight);
    hasher.finalize()
}

/// The largest record written or read: a group is bounded well below
/// this (see [`super::group::GROUP_BYTES`]); a length above it is garbage.
pub(super) const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

/// The log grows to about this size before a checkpoint flushes sled and
/// deletes it.
const CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;

/// A checkpoint runs at least this often while writes come in, so a
/// restart has little to apply again. Unit tests make crash images of a
/// store by copying its files, so there a checkpoint comes only by size.
const CHECKPOINT_INTERVAL: Duration = if cfg!(test) {
    Duration::from_secs(3600)
} else {
    Duration::from_secs(2)
};

const FILE_PREFIX: &str = "wal-";

/// A log file is filled with zeros this far ahead of its last record (see
/// [`Log::fill_ahead`]); a replay takes a header of zeros followed by
/// nothing but zeros for the end of the file.
pub(super) const FILL_BYTES: u64 = 1024 * 1024;

/// Below this much free space a log file is not filled ahead (it grows
/// with each append instead).
const LOW_DISK_BYTES: u64 = 64 * FILL_BYTES;

/// A record write as logged: the tree's name, the key, the value or `None`
/// to remove it.
type LoggedWrite = (String, Vec<u8>, Option<Vec<u8>>);

/// The same, borrowed.
type LoggedWriteRef<'a> = (&'a str, Bytes<'a>, Option<Bytes<'a>>);

/// Bytes serialised as bytes: serde writes a plain `&[u8]` as a sequence,
/// one call per byte (a fifth of a write's instructions went there), where
/// postcard writes both the same way (a length, then the bytes), so the
/// log's format does not change.
#[derive(Clone, Copy)]
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// One logged group: the generations it covers and every record it writes.
#[derive(Serialize, Deserialize)]
struct Record {
    first: u64,
    last: u64,
    writes: Vec<LoggedWrite>,
}

/// The same, borrowed, for writing without copying the values.
#[derive(Serialize)]
struct RecordRef<'a> {
    first: u64,
    last: u64,
    writes: Vec<LoggedWriteRef<'a>>,
}

/// Encodes a group's writes (tree position, key, value or removal) as a
/// log record, header included.
pub(super) fn encode(first: u64, last: u64, writes: &[super::batch::Write], names: &[&'static str]) -> Vec<u8> {
    let record = RecordRef {
        first,
        last,
        writes: writes
            .iter()
            .map(|(position, key, value)| (names[*position], Bytes(key), value.as_deref().map(Bytes)))
            .collect(),
    };
    // The payload is written once, behind room for the header, into a
    // buffer of its exact size (counted first: a group's record is tens of
    // kilobytes, and growing a buffer for it and then copying it behind
    // the header copied it three times over). Serialising plain structs
    // into a Vec cannot fail.
    let size = postcard::serialize_with_flavor(&record, postcard::ser_flavors::Size::default()).unwrap_or(0);
    let mut out = Vec::with_capacity(HEADER_BYTES + size);
    out.resize(HEADER_BYTES, 0);
    let mut out = postcard::serialize_with_flavor(&record, Behind(out)).unwrap_or_default();
    let payload = &out[HEADER_BYTES..];
    let (len, crc) = (
        (payload.len() as u32).to_le_bytes(),
        crc32fast::hash(payload).to_le_bytes(),
    );
    out[..4].copy_from_slice(&len);
    out[4..8].copy_from_slice(&crc);
    let crc = header_crc(&out[..8]);
    out[8..HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    out
}

/// A postcard output that appends to a buffer holding something already
/// (a record's header, filled in afterwards).
struct Behind(Vec<u8>);

impl postcard::ser_flavors::Flavor for Behind {
    type Output = Vec<u8>;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// What the log needs of its file. A trait so that tests can put a file
/// that fails on command in its place (see the store's tests).
pub(super) trait LogFile: Send {
    /// Writes `bytes` at the current end and syncs them (`fdatasync`).
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Cuts the file to `len` bytes, moves the end there, and syncs.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Writes zeros from `from` (the current end) up to `to`, syncs them
    /// (file size included), and moves the end back to `from`.
    fn fill(&mut self, from: u64, to: u64) -> std::io::Result<()>;
}

impl LogFile for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)?;
        self.sync_data()
    }

    fn fill(&mut self, from: u64, to: u64) -> std::io::Result<()> {
        use std::io::Seek;
        let zeros = vec![0u8; 64 * 1024];
        self.seek(std::io::SeekFrom::Start(from))?;
        let mut at = from;
        while at < to {
            let n = (to - at).min(zeros.len() as u64) as usize;
            self.write_all(&zeros[..n])?;
            at += n as u64;
        }
        self.sync_data()?;
        self.seek(std::io::SeekFrom::Start(from))?;
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        use std::io::Seek;
        self.set_len(len)?;
        self.seek(std::io::SeekFrom::Start(len))?;
        self.sync_data()
    }
}

/// The log file writes are appended to.
pub(super) struct Log {
    dir: PathBuf,
    sequence: u64,
    file: Box<dyn LogFile>,
    /// Bytes of whole records in the file (what a failed append is cut back to).
    len: u64,
    /// Bytes of the file written (records, then zeros): appends within it
    /// overwrite zeros in place, so their sync has no file size to record.
    filled: u64,
    /// Whether the file may hold bytes past `len` that could not be cut off
    /// (part of a failed append, or a record sled refused). Until they are,
    /// nothing is appended (a record after them would sit behind garbage,
    /// and be lost with everything after it at the next start) and a replay
    /// stops at `len`.
    dirty: bool,
    /// When the file was started (what the checkpoint interval counts from).
    started: Instant,
}

fn file_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}{sequence:016}"))
}

fn log_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Log {
        path: path.to_owned(),
        source,
    }
}

/// The log files in `dir`, oldest first, with their sequence numbers.
pub(super) fn files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(log_err(dir))? {
        let entry = entry.map_err(log_err(dir))?;
        let name = entry.file_name();
        let Some(sequence) = name.to_str().and_then(|n| n.strip_prefix(FILE_PREFIX)) else {
            continue;
        };
        if let Ok(sequence) = sequence.parse::<u64>() {
            out.push((sequence, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the log files older than `sequence` (their records are in sled,
/// flushed). A file that cannot be deleted is only replayed again (and
/// skipped) at the next start, so failures are logged, not returned.
pub(super) fn remove_before(dir: &Path, sequence: u64) {
    let Ok(old) = files(dir) else { return };
    for (_, path) in old.into_iter().filter(|(s, _)| *s < sequence) {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(error = %e, path = %path.display(), "could not delete a write-ahead log file");
        }
    }
}

/// Makes a new file's directory entry durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Log {
    /// Starts a new log file after every one in `dir`.
    pub(super) fn create(dir: &Path) -> Result<Log, StoreError> {
        let sequence = files(dir)?.last().map_or(1, |(s, _)| s + 1);
        Log::create_at(dir, sequence)
    }

    fn create_at(dir: &Path, sequence: u64) -> Result<Log, StoreError> {
        let path = file_path(dir, sequence);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(log_err(&path))?;
        sync_dir(dir).map_err(log_err(dir))?;
        Ok(Log {
            dir: dir.to_owned(),
            sequence,
            file: Box::new(file),
            len: 0,
            filled: 0,
            dirty: false,
            started: Instant::now(),
        })
    }

    /// Appends a record and syncs it to disk. On failure the file is cut
    /// back to its last whole record, so nothing of it is ever replayed.
    /// While a cut that failed has not been made good, nothing is
    /// appended: the error says why (a disk fault, like the one that
    /// failed the cut).
    pub(super) fn append(&mut self, record: &[u8]) -> std::io::Result<()> {
        if record.len() > HEADER_BYTES + MAX_RECORD_BYTES {
            return Err(std::io::Error::new(
                ErrorKind::InvalidInput,
                format!("a write of {} bytes is larger than a log record may be", record.len()),
            ));
        }
        self.make_whole()?;
        if !self.fill_ahead(record.len() as u64) {
            // Whatever part of the zeros was written is cut off again: the
            // append then grows the file (or fails as the fill did).
            self.cut_back(self.len);
            self.make_whole()?;
        }
        match self.file.append(record) {
            Ok(()) => {
                self.len += record.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.cut_back(self.len);
                Err(e)
            }
        }
    }

    /// Makes sure the file is filled (with zeros) past a record of `bytes`
    /// about to be appended, [`FILL_BYTES`] at a time: an append that
    /// overwrites zeros syncs faster than one that grows the file (about
    /// half the time on the disks measured), and costs the kernel less.
    /// Whether it is filled (a fill that fails, on a full disk say, is
    /// cut off by the caller, and the append grows the file).
    fn fill_ahead(&mut self, bytes: u64) -> bool {
        let end = self.len + bytes;
        if end <= self.filled {
            return true;
        }
        // Not on a disk nearly full: the zeros would take room sled may need.
        if fs2::available_space(&self.dir).map_or(true, |free| free < LOW_DISK_BYTES) {
            return true;
        }
        let to = end + FILL_BYTES;
        match self.file.fill(self.len, to) {
            Ok(()) => {
                self.filled = to;
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not fill the write-ahead log ahead");
                self.filled = self.len;
                false
            }
        }
    }

    /// Cuts off what a failed cut left past the last whole record, if
    /// anything; an error while that cannot be done.
    pub(super) fn make_whole(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.file.truncate(self.len).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "the write-ahead log {} still holds part of a failed write that could not be cut off ({e}); writes are refused until it can be",
                    file_path(&self.dir, self.sequence).display()
                ),
            )
        })?;
        tracing::info!(dir = %self.dir.display(), "cut a failed write out of the write-ahead log");
        self.filled = self.len;
        self.dirty = false;
        Ok(())
    }

    /// While the file holds bytes past its last whole record that could
    /// not be cut off: the file and the length a replay must stop at.
    pub(super) fn replay_limit(&self) -> Option<(u64, u64)> {
        self.dirty.then_some((self.sequence, self.len))
    }

    /// Puts `wrap(the file)` in place of the log's file, opened again for
    /// appending (tests inject faults through it).
    #[cfg(test)]
    pub(super) fn wrap_file(&mut self, wrap: impl FnOnce(Box<dyn LogFile>) -> Box<dyn LogFile>) {
        use std::io::Seek;
        let path = file_path(&self.dir, self.sequence);
        let mut file = OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("the log file opens again");
        file.seek(std::io::SeekFrom::Start(self.len))
            .expect("the log file seeks to its end");
        self.file = wrap(Box::new(file));
    }

    /// The file's sequence number (files before it are older).
    pub(super) fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Where the next record will start.
    pub(super) fn end(&self) -> u64 {
        self.len
    }

    /// Cuts the file back to `len` bytes (dropping the records after it).
    /// A cut that fails is logged and remembered: the log then refuses
    /// appends, and replays stop at `len`, until a later try succeeds
    /// ([`Log::make_whole`]).
    pub(super) fn cut_back(&mut self, len: u64) {
        self.len = len;
        self.dirty = true;
        if let Err(e) = self.make_whole() {
            tracing::error!(error = %e, dir = %self.dir.display(), "could not cut a failed write out of the write-ahead log");
        }
    }

    /// Whether a checkpoint is due (the file is large or old enough).
    pub(super) fn checkpoint_due(&self) -> bool {
        self.len > 0 && (self.len >= CHECKPOINT_BYTES || self.started.elapsed() >= CHECKPOINT_INTERVAL)
    }

    /// Starts the next file; returns its sequence number: every file before
    /// it may be deleted once sled is flushed.
    pub(super) fn rotate(&mut self) -> Result<u64, StoreError> {
        *self = Log::create_at(&self.dir, self.sequence + 1)?;
        Ok(self.sequence)
    }
}

/// What applying the log again to a freshly opened database did.
#[derive(Default)]
pub(super) struct Replayed {
    /// Groups applied again (they were logged but not yet in sled's files).
    pub(super) groups: u64,
    /// Damage found: records that could not be read before the log's end.
    pub(super) damage: Vec<String>,
}

/// How reading one record ended.
enum Next {
    /// A whole record and the bytes it took, header included.
    Record(Record, u64),
    /// The file ends cleanly here.
    End,
    /// The record is cut short or garbled; `trailing` says whether bytes
    /// follow it (then it is not a torn tail but damage).
    Bad { reason: String, trailing: bool },
}

/// Whether the rest of the file holds only zero bytes (or nothing).
fn only_zeros_follow(reader: &mut impl Read) -> std::io::Result<bool> {
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk)? {
            0 => return Ok(true),
            n if chunk[..n].iter().any(|b| *b != 0) => return Ok(false),
            _ => {}
        }
    }
}

fn read_record<R: Read>(reader: &mut R, at: u64, file_len: u64) -> std::io::Result<Next> {
    let mut header = [0u8; HEADER_BYTES];
    let mut got = 0;
    while got < HEADER_BYTES {
        match reader.read(&mut header[got..])? {
            0 if got == 0 => return Ok(Next::End),
            0 => {
                return Ok(Next::Bad {
                    reason: "the header is cut short".into(),
                    trailing: false,
                })
            }
            n => got += n,
        }
    }
    if header.iter().all(|b| *b == 0) {
        // Where the records end in a file filled ahead with zeros; more
        // records after zeros are damage.
        return Ok(if only_zeros_follow(reader)? {
            Next::End
        } else {
            Next::Bad {
                reason: "a header of zeros".into(),
                trailing: true,
            }
        });
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let own = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if header_crc(&header[..8]) != own {
        // Garbled: a torn tail only if nothing but zeros follows.
        return Ok(Next::Bad {
            reason: "its header's checksum does not match".into(),
            trailing: !only_zeros_follow(reader)?,
        });
    }
    let end = at + (HEADER_BYTES + len) as u64;
    if len > MAX_RECORD_BYTES {
        return Ok(Next::Bad {
            reason: format!("a length of {len} bytes is not a record's"),
            trailing: true,
        });
    }
    if end > file_len {
        // A whole header whose record the file does not hold: the append
        // did not finish.
        return Ok(Next::Bad {
            reason: "the record is cut short".into(),
            trailing: false,
        });
    }
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload)?;
    let bad = |reader: &mut R, reason: String| -> std::io::Result<Next> {
        // Zeros after it are space the filesystem showed before it was written.
        let trailing = end < file_len && !only_zeros_follow(reader)?;
        Ok(Next::Bad { reason, trailing })
    };
    if crc32fast::hash(&payload) != crc {
        return bad(reader, "its checksum does not match".into());
    }
    match postcard::from_bytes::<Record>(&payload) {
        Ok(record) => Ok(Next::Record(record, (HEADER_BYTES + len) as u64)),
        Err(e) => bad(reader, format!("it does not decode ({e})")),
    }
}

/// Applies to `handles` every logged group past the database's generation,
/// in order, each in one transaction. A torn record at the end of the last
/// file is cut off; a damaged one elsewhere stops the replay and is
/// reported. Flushes sled when anything was applied. Deletes nothing.
/// `limit` (a file's sequence and a length) stops the replay of that file
/// there: what follows is a write the log could not cut off
/// ([`Log::replay_limit`]).
pub(super) fn replay(
    dir: &Path,
    handles: &Handles,
    names: &[&'static str],
    meta: usize,
    limit: Option<(u64, u64)>,
) -> Result<Replayed, StoreError> {
    use sled::transaction::ConflictableTransactionError;
    use sled::Transactional;

    let mut replayed = Replayed::default();
    let mut generation = read_u64(
        handles.trees[meta]
            .get(META_GENERATION)
            .map_err(sled_err("reading the generation"))?,
    );
    let all = files(dir)?;
    let last_file = all.last().map(|(s, _)| *s);
    'files: for (sequence, path) in &all {
        let file = File::open(path).map_err(log_err(path))?;
        let mut file_len = file.metadata().map_err(log_err(path))?.len();
        if let Some((_, end)) = limit.filter(|(s, _)| s == sequence) {
            file_len = file_len.min(end);
        }
        let mut reader = BufReader::new(file.take(file_len));
        let mut at = 0u64;
        loop {
            let record = match read_record(&mut reader, at, file_len).map_err(log_err(path))? {
                Next::End => break,
                Next::Record(record, bytes) => {
                    at += bytes;
                    record
                }
                Next::Bad { reason, trailing } => {
                    if Some(*sequence) == last_file && !trailing {
                        tracing::warn!(path = %path.display(), at, reason, "dropping a write cut short at the end of the write-ahead log");
                        if let Err(e) = OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(at)) {
                            tracing::warn!(error = %e, path = %path.display(), "could not cut the torn write off");
                        }
                    } else {
                        replayed.damage.push(format!(
                            "the write-ahead log {} is damaged at byte {at} ({reason}): the writes logged from there on (after generation {generation}) are lost",
                            path.display()
                        ));
                    }
                    break 'files;
                }
            };
            if record.last <= generation {
                continue;
            }
            if record.first != generation + 1 {
                replayed.damage.push(format!(
                    "the write-ahead log {} jumps from generation {generation} to {}: writes in between are lost",
                    path.display(),
                    record.first
                ));
                break 'files;
            }
            let mut writes = Vec::with_capacity(record.writes.len());
            for (tree, key, value) in &record.writes {
                let Some(position) = names.iter().position(|n| n == tree) else {
                    replayed.damage.push(format!(
                        "the write-ahead log {} writes to a tree this build does not have (`{tree}`)",
                        path.display()
                    ));
                    break 'files;
                };
                writes.push((position, key, value));
            }
            handles
                .trees
                .as_slice()
                .transaction(|tx| {
                    for (position, key, value) in &writes {
                        match value {
                            Some(value) => tx[*position].insert(key.as_slice(), value.as_slice())?,
                            None => tx[*position].remove(key.as_slice())?,
                        };
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                })
                .map_err(|e| StoreError::Task(format!("applying the write-ahead log {} again: {e}", path.display())))?;
            generation = record.last;
            replayed.groups += 1;
        }
    }
    if replayed.groups > 0 {
        handles
            .db
            .flush()
            .map_err(sled_err("flushing the writes applied from the write-ahead log"))?;
        tracing::info!(
            groups = replayed.groups,
            generation,
            "applied the write-ahead log again"
        );
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_its_header_then_the_postcard_payload_and_reads_back() {
        let writes: Vec<super::super::batch::Write> = vec![
            (0, b"actor/a".to_vec(), Some(vec![7; 3000])),
            (1, b"k".to_vec(), None),
            (0, Vec::new(), Some(Vec::new())),
        ];
        let names = ["actors", "meta"];
        let record = encode(3, 5, &writes, &names);
        // The format as written before (plain slices, which serde writes
        // as sequences): header, then the payload.
        type PlainWrite<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);
        #[derive(Serialize)]
        struct Before<'a> {
            first: u64,
            last: u64,
            writes: Vec<PlainWrite<'a>>,
        }
        let payload = postcard::to_allocvec(&Before {
            first: 3,
            last: 5,
            writes: writes
                .iter()
                .map(|(p, k, v)| (names[*p], k.as_slice(), v.as_deref()))
                .collect(),
        })
        .unwrap();
        let mut want = (payload.len() as u32).to_le_bytes().to_vec();
        want.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        let crc = header_crc(&want);
        want.extend_from_slice(&crc.to_le_bytes());
        want.extend_from_slice(&payload);
        assert_eq!(record, want);
        let read: Record = postcard::from_bytes(&record[HEADER_BYTES..]).unwrap();
        assert_eq!((read.first, read.last, read.writes.len()), (3, 5, 3));
        assert_eq!(
            read.writes[0],
            ("actors".to_string(), b"actor/a".to_vec(), Some(vec![7; 3000]))
        );
        assert_eq!(read.writes[1], ("meta".to_string(), b"k".to_vec(), None));
    }
}
