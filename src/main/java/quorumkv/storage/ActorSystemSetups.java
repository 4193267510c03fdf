package quorumkv.storage;

import akka.actor.BootstrapSetup;
import akka.actor.setup.ActorSystemSetup;
import akka.serialization.jackson.JacksonObjectMapperFactory;
import akka.serialization.jackson.JacksonObjectMapperProviderSetup;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;

/**
 * The setup every quorumkv ActorSystem that holds a replica starts with: its configuration, and
 * Jackson mappers that do not intern field names.
 *
 * <p>A snapshot writes the key map as a CBOR map, so every key of the replica is a field name to
 * Jackson, which by default interns each one ({@link String#intern}) while it reads them. With
 * 1,000,000 keys that was the largest single cost of loading a snapshot (225 of the 808 CPU
 * samples of the recovering thread, {@code quorumkv.tools.RecoveryBench --keys 1000000}) and left
 * every key in the JVM's string table for good. Without interning, a field name is still
 * canonicalized (decoded once per distinct name and reused), so the messages' own property names
 * cost what they did.
 */
public final class ActorSystemSetups {
  private ActorSystemSetups() {}

  public static ActorSystemSetup of(Config config) {
    return ActorSystemSetup.create(BootstrapSetup.create(config),
        JacksonObjectMapperProviderSetup.create(new NoInterning()));
  }

  private static final class NoInterning extends JacksonObjectMapperFactory {
    @Override
    public ObjectMapper newObjectMapper(String bindingName, JsonFactory jsonFactory) {
      jsonFactory.disable(JsonFactory.Feature.INTERN_FIELD_NAMES);
      return super.newObjectMapper(bindingName, jsonFactory);
    }
  }
}
