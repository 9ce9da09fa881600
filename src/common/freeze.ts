/** Deep-freezes a config object graph (plain objects, arrays, Sets and Maps) and returns it typed as is. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  if (value instanceof Set || value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    // Sets and Maps stay mutable through their methods; the model's types expose them as Readonly.
    return Object.freeze(value);
  }
  for (const v of Object.values(value as object)) deepFreeze(v);
  return Object.freeze(value);
}
