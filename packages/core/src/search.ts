/**
 * The first index of `sorted` whose item is not below `value` (`sorted.length` if none): where
 * `value` would be inserted to keep the order. Items compare with `<` (numbers, or strings by
 * UTF-16 code units).
 */
export function lowerBound<T extends number | string>(sorted: ArrayLike<T>, value: T): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as T) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index of `sorted` whose item is above `value` (`sorted.length` if none). */
export function upperBound<T extends number | string>(sorted: ArrayLike<T>, value: T): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as T) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
