package dev.pgmux.config;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonMappingException;
import java.util.List;

/**
 * A setting's position in the config tree, both as a JSON Pointer (to look up its {@link Origins origin}) and
 * as people write it in messages: {@code routes.app_user.port}, {@code listen[1]}.
 */
record Key(JsonPointer pointer, String dotted) {
    static final Key ROOT = new Key(JsonPointer.empty(), "");

    static Key of(String... names) {
        Key k = ROOT;
        for (String n : names) {
            k = k.child(n);
        }
        return k;
    }

    /** The key a Jackson error points at. */
    static Key of(List<JsonMappingException.Reference> path) {
        Key k = ROOT;
        for (JsonMappingException.Reference r : path) {
            k = r.getFieldName() != null ? k.child(r.getFieldName()) : k.index(r.getIndex());
        }
        return k;
    }

    Key child(String name) {
        return new Key(pointer.appendProperty(name), dotted.isEmpty() ? name : dotted + "." + name);
    }

    Key index(int i) {
        return new Key(pointer.appendIndex(i), dotted + "[" + i + "]");
    }
}
