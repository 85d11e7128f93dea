// Branded numbers: ids that are numbers at run time (no object, no cost: the brand exists only for the
// type checker) but that the type checker keeps apart, so a frame id cannot be passed where a site id is
// wanted. A plain number becomes an id only where ids are made (`n as SiteId`); ids read as numbers
// wherever a number is wanted.
//
// With noUncheckedIndexedAccess, reading an array at an index known to be in range is written `a[i]!`
// (the one idiom for unchecked indexing, in src/ and viewer/ alike); reading an id back from a plain
// numeric array is written `a[i] as SiteId`, which says both things at once.

export type Brand<T, B extends string> = T & { readonly __brand: B };
