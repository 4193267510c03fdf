package quorumkv.watch;

import quorumkv.storage.EntryChanges;

/** What a watch stream carries, in order: the changes of one log entry, or a progress mark. */
public sealed interface WatchEvent {

  /** The id a client resumes after: a version (log index). */
  long id();

  /** The watched keys that the entry at {@code changes.version()} changed. */
  record Changed(EntryChanges changes) implements WatchEvent {
    @Override
    public long id() {
      return changes.version();
    }
  }

  /** Nothing watched changed up to {@code index}, which this node has applied. */
  record Progress(long index) implements WatchEvent {
    @Override
    public long id() {
      return index;
    }
  }
}
