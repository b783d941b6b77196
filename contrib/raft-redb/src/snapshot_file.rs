//! Snapshot data files: the data of the store's one current snapshot lives
//! in `snapshots/snapshot-<seq>.snap`, and redb keeps only a
//! [`SnapshotRecord`] (metadata, file sequence number, length, checksum).
//!
//! A file is written under a temporary name, synced, renamed into place
//! and the directory synced *before* the transaction that records it
//! commits, so a committed record always names a complete file. A file that
//! no committed record names (a crash between the rename and the commit, or
//! before an old file was removed) is deleted when the store is opened.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::PathBuf;

use protobuf::Message as _;
use raft::eraftpb::SnapshotMetadata;

use crate::checksum::{crc32c, Crc32c};
use crate::error::Error;

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".tmp";

/// What redb stores about the current snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SnapshotRecord {
    /// The snapshot's index, term and membership.
    pub(crate) metadata: SnapshotMetadata,
    /// The sequence number in the data file's name.
    pub(crate) seq: u64,
    /// The data's length in bytes.
    pub(crate) len: u64,
    /// The data's CRC-32C.
    pub(crate) crc: u32,
}

impl SnapshotRecord {
    /// Fixed-size header: seq, len (big-endian u64 each), crc (u32).
    const HEADER: usize = 8 + 8 + 4;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::HEADER + 32);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.crc.to_be_bytes());
        out.extend_from_slice(
            &self
                .metadata
                .write_to_bytes()
                .expect("encoding a SnapshotMetadata cannot fail"),
        );
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<SnapshotRecord, Error> {
        if bytes.len() < Self::HEADER {
            return Err(Error::corrupt(format!(
                "snapshot record is {} bytes, shorter than its {}-byte header",
                bytes.len(),
                Self::HEADER
            )));
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        let metadata = SnapshotMetadata::parse_from_bytes(&bytes[Self::HEADER..])
            .map_err(|e| Error::corrupt(format!("snapshot metadata does not decode: {e}")))?;
        Ok(SnapshotRecord {
            metadata,
            seq: u64_at(0),
            len: u64_at(8),
            crc: u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        })
    }

    pub(crate) fn index(&self) -> u64 {
        self.metadata.index
    }
}

/// The directory of snapshot files inside a store directory.
#[derive(Debug)]
pub(crate) struct SnapshotDir {
    path: PathBuf,
}

impl SnapshotDir {
    /// Creates the directory if needed.
    pub(crate) fn open(path: PathBuf) -> Result<SnapshotDir, Error> {
        fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("create directory {}", path.display()), e))?;
        Ok(SnapshotDir { path })
    }

    pub(crate) fn file_path(&self, seq: u64) -> PathBuf {
        self.path.join(format!("{PREFIX}{seq:016x}{SUFFIX}"))
    }

    /// Writes `data` as file `seq` durably: a temporary file, synced,
    /// renamed, then the directory synced. Returns the record fields.
    pub(crate) fn write(&self, seq: u64, data: &[u8]) -> Result<(u64, u32), Error> {
        let target = self.file_path(seq);
        let tmp = target.with_extension(&TMP_SUFFIX[1..]);
        let mut file = File::create(&tmp)
            .map_err(|e| Error::io(format!("create snapshot file {}", tmp.display()), e))?;
        file.write_all(data)
            .map_err(|e| Error::io(format!("write snapshot file {}", tmp.display()), e))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("sync snapshot file {}", tmp.display()), e))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| {
            Error::io(
                format!("rename {} to {}", tmp.display(), target.display()),
                e,
            )
        })?;
        self.sync()?;
        Ok((data.len() as u64, crc32c(data)))
    }

    /// Syncs the directory, so that renames and removals in it are durable.
    fn sync(&self) -> Result<(), Error> {
        File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(format!("sync directory {}", self.path.display()), e))
    }

    /// Reads the data `record` names, checking its length and checksum.
    pub(crate) fn read(&self, record: &SnapshotRecord) -> Result<Vec<u8>, Error> {
        let path = self.file_path(record.seq);
        let mut file = File::open(&path)
            .map_err(|e| Error::io(format!("open snapshot file {}", path.display()), e))?;
        let mut data = Vec::with_capacity(record.len as usize);
        file.read_to_end(&mut data)
            .map_err(|e| Error::io(format!("read snapshot file {}", path.display()), e))?;
        if data.len() as u64 != record.len {
            return Err(Error::corrupt(format!(
                "snapshot file {} is {} bytes, expected {}",
                path.display(),
                data.len(),
                record.len
            )));
        }
        let mut crc = Crc32c::new();
        crc.update(&data);
        let crc = crc.finish();
        if crc != record.crc {
            return Err(Error::corrupt(format!(
                "snapshot file {} has checksum {crc:08x}, expected {:08x}",
                path.display(),
                record.crc
            )));
        }
        Ok(data)
    }

    /// Checks that the file `record` names exists with the right length
    /// (the checksum is checked whenever the data is read).
    pub(crate) fn check_length(&self, record: &SnapshotRecord) -> Result<(), Error> {
        let path = self.file_path(record.seq);
        let len = fs::metadata(&path)
            .map_err(|e| Error::io(format!("stat snapshot file {}", path.display()), e))?
            .len();
        if len != record.len {
            return Err(Error::corrupt(format!(
                "snapshot file {} is {len} bytes, expected {}",
                path.display(),
                record.len
            )));
        }
        Ok(())
    }

    /// Removes every snapshot or temporary file except file `keep`, and
    /// returns the highest sequence number seen in a file name (so new
    /// files never reuse a name). Files that are not ours are left alone.
    pub(crate) fn remove_all_but(&self, keep: Option<u64>) -> Result<u64, Error> {
        let listing = fs::read_dir(&self.path)
            .map_err(|e| Error::io(format!("list directory {}", self.path.display()), e))?;
        let mut highest = 0;
        let mut removed = false;
        for item in listing {
            let item =
                item.map_err(|e| Error::io(format!("list directory {}", self.path.display()), e))?;
            let name = item.file_name();
            let Some(seq) = name.to_str().and_then(parse_file_name) else {
                continue;
            };
            highest = highest.max(seq);
            let is_kept = keep == Some(seq) && name.to_str().is_some_and(|n| n.ends_with(SUFFIX));
            if !is_kept {
                let path = item.path();
                fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("remove stale file {}", path.display()), e))?;
                removed = true;
            }
        }
        if removed {
            self.sync()?;
        }
        Ok(highest)
    }

    /// Removes file `seq` if it exists; a leftover is removed on the next
    /// open, so failures are ignored.
    pub(crate) fn remove_quietly(&self, seq: u64) {
        let _ = fs::remove_file(self.file_path(seq));
    }
}

/// The sequence number in a snapshot or temporary file's name.
fn parse_file_name(name: &str) -> Option<u64> {
    let rest = name.strip_prefix(PREFIX)?;
    let hex = rest
        .strip_suffix(SUFFIX)
        .or_else(|| rest.strip_suffix(TMP_SUFFIX))?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// A fresh scratch directory for unit tests, removed on drop.
#[cfg(test)]
pub(crate) struct ScratchDir(pub(crate) PathBuf);

#[cfg(test)]
impl ScratchDir {
    pub(crate) fn new(name: &str) -> ScratchDir {
        let path =
            std::env::temp_dir().join(format!("raft-redb-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        ScratchDir(path)
    }
}

#[cfg(test)]
impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, len: u64, crc: u32) -> SnapshotRecord {
        let metadata = SnapshotMetadata {
            index: 7,
            term: 3,
            conf_state: Some(raft::eraftpb::ConfState::from((vec![1, 2], vec![]))).into(),
            ..Default::default()
        };
        SnapshotRecord {
            metadata,
            seq,
            len,
            crc,
        }
    }

    #[test]
    fn record_round_trips_and_short_records_are_corrupt() {
        let r = record(5, 1234, 0xdead_beef);
        assert_eq!(SnapshotRecord::decode(&r.encode()).unwrap(), r);
        assert!(matches!(
            SnapshotRecord::decode(&[1, 2, 3]),
            Err(Error::Corrupt { .. })
        ));
        let mut bad = r.encode();
        bad.truncate(SnapshotRecord::HEADER + 1);
        bad.push(0xff);
        assert!(matches!(
            SnapshotRecord::decode(&bad),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn written_file_reads_back_and_damage_is_reported() {
        let scratch = ScratchDir::new("snapfile");
        let dir = SnapshotDir::open(scratch.0.join("snapshots")).unwrap();
        let data = b"state machine image".to_vec();
        let (len, crc) = dir.write(3, &data).unwrap();
        let rec = record(3, len, crc);
        dir.check_length(&rec).unwrap();
        assert_eq!(dir.read(&rec).unwrap(), data);

        // Same length, one bit flipped: the checksum catches it.
        let mut flipped = data.clone();
        flipped[0] ^= 1;
        fs::write(dir.file_path(3), &flipped).unwrap();
        dir.check_length(&rec).unwrap();
        let err = dir.read(&rec).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");

        // Truncated: both the open-time check and a read report it.
        fs::write(dir.file_path(3), &data[..4]).unwrap();
        assert!(matches!(dir.check_length(&rec), Err(Error::Corrupt { .. })));
        assert!(matches!(dir.read(&rec), Err(Error::Corrupt { .. })));

        // Missing: an I/O error naming the file.
        fs::remove_file(dir.file_path(3)).unwrap();
        let err = dir.read(&rec).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(
            err.to_string().contains("snapshot-0000000000000003"),
            "{err}"
        );
    }

    #[test]
    fn stale_files_are_removed_and_the_highest_sequence_is_reported() {
        let scratch = ScratchDir::new("stale");
        let dir = SnapshotDir::open(scratch.0.clone()).unwrap();
        dir.write(1, b"old").unwrap();
        dir.write(4, b"current").unwrap();
        fs::write(scratch.0.join("snapshot-0000000000000009.tmp"), b"half").unwrap();
        fs::write(scratch.0.join("notes.txt"), b"not ours").unwrap();
        assert_eq!(dir.remove_all_but(Some(4)).unwrap(), 9);
        let mut names: Vec<_> = fs::read_dir(&scratch.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["notes.txt", "snapshot-0000000000000004.snap"]);
        assert_eq!(dir.remove_all_but(None).unwrap(), 4);
        assert!(!dir.file_path(4).exists());
    }
}
