package quorumkv;

/** Marker for every message and event that crosses the network or goes to disk: Jackson CBOR. */
public interface CborSerializable {}
