package quorumkv.storage;

import quorumkv.CborSerializable;

/** One key of a full state transfer. */
public record KeyValue(String key, String value, long version) implements CborSerializable {}
