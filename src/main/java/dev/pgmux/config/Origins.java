package dev.pgmux.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Where each setting came from: a line of the config file, an environment variable, or a flag. Errors are
 * found after the file, the environment and the flags have been merged into one tree, so this map is what lets
 * an error still say {@code pgmux.yaml:12} or {@code PGMUX_LISTEN}.
 */
final class Origins {
    /** A setting's origin; {@code line} is 0 for anything but the file. */
    record Origin(String name, int line) {
        boolean isFile() {
            return line > 0;
        }

        @Override
        public String toString() {
            return line > 0 ? name + ":" + line : name;
        }
    }

    private final Map<JsonPointer, Origin> byKey = new HashMap<>();
    private final Origin fallback;

    Origins(Origin fallback) {
        this.fallback = fallback;
    }

    /**
     * Notes the line of every key and list item of a YAML document, reading it as a token stream (the tree that
     * Jackson builds keeps no locations).
     */
    static Origins ofDocument(JsonParser parser, String name) throws IOException {
        Origins origins = new Origins(new Origin(name, 0));
        for (JsonToken t = parser.nextToken(); t != null; t = parser.nextToken()) {
            JsonStreamContext ctx = parser.getParsingContext();
            if (t.isStructStart()) {
                // The new object's or list's own context has no name yet: its key or index is its parent's.
                ctx = ctx.getParent();
            }
            if (ctx == null || ctx.inRoot()) {
                continue;
            }
            if (t == JsonToken.FIELD_NAME || ctx.inArray()) {
                origins.byKey.putIfAbsent(ctx.pathAsPointer(), new Origin(name, parser.currentTokenLocation().getLineNr()));
            }
        }
        return origins;
    }

    /** Records that {@code key} and everything below it now come from {@code origin}. */
    void replace(JsonPointer key, String origin) {
        byKey.keySet().removeIf(k -> k.toString().startsWith(key.toString() + "/"));
        byKey.put(key, new Origin(origin, 0));
    }

    /** The origin of {@code key}, else of its nearest parent that has one, else the document's. */
    Origin of(JsonPointer key) {
        for (JsonPointer k = key; k != null && !k.matches(); k = k.head()) {
            Origin o = byKey.get(k);
            if (o != null) {
                return o;
            }
        }
        return fallback;
    }
}
