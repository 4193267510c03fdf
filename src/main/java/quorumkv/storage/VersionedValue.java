package quorumkv.storage;

import quorumkv.CborSerializable;

/** A key's current value and the log index of the write that set it. */
public record VersionedValue(String value, long version) implements CborSerializable {}
