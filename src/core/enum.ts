// House rule for enumerations: `as const` objects plus a derived union type (works with type
// stripping, no TS `enum`). Example:
//   export const Proto = { TCP: 6, UDP: 17 } as const
//   export type Proto = ValueOf<typeof Proto>
export type ValueOf<T> = T[keyof T]
