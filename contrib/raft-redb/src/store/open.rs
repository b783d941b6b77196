//! Opening a store: the database file, the schema of a fresh store, and
//! the committed state read back from an existing one.

use std::path::Path;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, HardState};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableError, TableHandle,
};

use super::{
    decode_entry, put_raw_meta, unseal, Cached, ENTRIES, FORMAT, KEY_COMPACTION, KEY_CONF_STATE,
    KEY_FORMAT, KEY_HARD_STATE, KEY_SNAPSHOT, META,
};
use crate::error::Error;
use crate::snapshot_file::SnapshotRecord;

/// Opens or creates the database file, telling a file that is not a redb
/// database apart from other failures.
pub(super) fn open_database(path: &Path) -> Result<Database, Error> {
    match Database::create(path) {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason))) => {
            Err(Error::NotARaftStore {
                path: path.to_path_buf(),
                reason: format!("not a readable redb database: {reason}"),
            })
        }
        // redb reports a file without its header as invalid data.
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
            if e.kind() == std::io::ErrorKind::InvalidData =>
        {
            Err(Error::NotARaftStore {
                path: path.to_path_buf(),
                reason: format!("not a redb database: {e}"),
            })
        }
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) => {
            Err(Error::io(format!("open database {}", path.display()), e))
        }
        Err(e) => Err(Error::db(format!("open database {}", path.display()), e)),
    }
}

/// Creates the tables of a fresh store and its format marker.
pub(super) fn create_schema(db: &Database) -> Result<(), Error> {
    let txn = db
        .begin_write()
        .map_err(|e| Error::db("begin write transaction", e))?;
    txn.open_table(ENTRIES)
        .map_err(|e| Error::db("create entries table", e))?;
    put_raw_meta(&txn, KEY_FORMAT, FORMAT)?;
    txn.commit().map_err(|e| Error::db("commit new store", e))
}

/// Reads the committed state, or `None` for a database with no tables at
/// all (new, or created by a crash before its first commit).
pub(super) fn load(db: &Database, path: &Path) -> Result<Option<Cached>, Error> {
    let foreign = |reason: String| Error::NotARaftStore {
        path: path.to_path_buf(),
        reason,
    };
    let txn = db
        .begin_read()
        .map_err(|e| Error::db("begin read transaction", e))?;
    let tables: Vec<String> = txn
        .list_tables()
        .map_err(|e| Error::db("list tables", e))?
        .map(|t| t.name().to_string())
        .collect();
    let multimap_tables = txn
        .list_multimap_tables()
        .map_err(|e| Error::db("list tables", e))?
        .count();
    if tables.is_empty() && multimap_tables == 0 {
        return Ok(None);
    }
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => {
            return Err(foreign(format!(
                "it has tables {tables:?} and no raft_meta"
            )))
        }
        Err(
            e @ (TableError::TableTypeMismatch { .. } | TableError::TypeDefinitionChanged { .. }),
        ) => {
            return Err(foreign(format!(
                "its raft_meta table has another type: {e}"
            )))
        }
        Err(e) => return Err(Error::db("open meta table", e)),
    };
    let get_raw = |name: &str| -> Result<Option<Vec<u8>>, Error> {
        Ok(meta
            .get(name)
            .map_err(|e| Error::db(format!("read {name}"), e))?
            .map(|v| v.value().to_vec()))
    };
    let get = |name: &str| -> Result<Option<Vec<u8>>, Error> {
        get_raw(name)?
            .map(|stored| unseal(&name, &stored).map(<[u8]>::to_vec))
            .transpose()
    };
    match get_raw(KEY_FORMAT)? {
        Some(f) if f == FORMAT => {}
        Some(f) => {
            return Err(foreign(format!(
                "format marker {:?}, expected {:?}",
                String::from_utf8_lossy(&f),
                String::from_utf8_lossy(FORMAT)
            )))
        }
        None => return Err(foreign("no format marker".to_string())),
    }
    let entries = match txn.open_table(ENTRIES) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => {
            return Err(Error::corrupt("the entries table is missing"))
        }
        Err(
            e @ (TableError::TableTypeMismatch { .. } | TableError::TypeDefinitionChanged { .. }),
        ) => {
            return Err(foreign(format!(
                "its raft_entries table has another type: {e}"
            )))
        }
        Err(e) => return Err(Error::db("open entries table", e)),
    };
    let mut cached = Cached::default();
    if let Some(bytes) = get(KEY_HARD_STATE)? {
        cached.hard_state = HardState::parse_from_bytes(&bytes)
            .map_err(|e| Error::corrupt(format!("hard state does not decode: {e}")))?;
    }
    if let Some(bytes) = get(KEY_CONF_STATE)? {
        cached.conf_state = ConfState::parse_from_bytes(&bytes)
            .map_err(|e| Error::corrupt(format!("conf state does not decode: {e}")))?;
    }
    if let Some(bytes) = get(KEY_COMPACTION)? {
        let pair: [u8; 16] = bytes.as_slice().try_into().map_err(|_| {
            Error::corrupt(format!(
                "compaction point is {} bytes, expected 16",
                bytes.len()
            ))
        })?;
        cached.compacted_index = u64::from_be_bytes(pair[..8].try_into().unwrap());
        cached.compacted_term = u64::from_be_bytes(pair[8..].try_into().unwrap());
    }
    if let Some(bytes) = get(KEY_SNAPSHOT)? {
        cached.snapshot = Some(SnapshotRecord::decode(&bytes)?);
    }
    type Stored<'a> = (
        redb::AccessGuard<'a, [u8; 8]>,
        redb::AccessGuard<'a, &'static [u8]>,
    );
    let bound = |item: Option<Stored<'_>>| {
        item.map(|(k, v)| {
            let index = u64::from_be_bytes(k.value());
            decode_entry(index, v.value()).map(|e| (index, e.term))
        })
        .transpose()
    };
    let first = bound(
        entries
            .first()
            .map_err(|e| Error::db("read first entry", e))?,
    )?;
    let last = bound(
        entries
            .last()
            .map_err(|e| Error::db("read last entry", e))?,
    )?;
    (cached.last_index, cached.last_term) = (cached.compacted_index, cached.compacted_term);
    if let (Some((first, _)), Some((last, last_term))) = (first, last) {
        let len = entries.len().map_err(|e| Error::db("count entries", e))?;
        if first != cached.first_index() || last - first + 1 != len {
            return Err(Error::corrupt(format!(
                "stored entries {first}..={last} ({len} of them) do not follow the compaction point {}",
                cached.compacted_index
            )));
        }
        (cached.last_index, cached.last_term) = (last, last_term);
    }
    Ok(Some(cached))
}
