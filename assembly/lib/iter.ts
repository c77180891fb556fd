// tdp_iter frames for walks, in this instance's block: a function that walks a table takes a frame and gives it
// back (walks nest at most ITER_FRAMES deep: a conversion's zap inside a step, the checker after it).
import { IN_ITER, ITER_SIZE, ITER_FRAMES } from "../abi/layout";
import { instBase } from "../mm/instance";
import { TdpIter } from "./pagetable";
import { DEBUG } from "./debug";

let depth: u32 = 0;

export function iterPush(): TdpIter {
  if (DEBUG) assert(depth < <u32>ITER_FRAMES, "iterPush: walks nested too deep");
  const it = changetype<TdpIter>(instBase() + IN_ITER + <usize>depth * ITER_SIZE);
  depth++;
  return it;
}

export function iterPop(): void { depth--; }

/** Forget every frame (the start of a step: nothing is walking). */
export function iterReset(): void { depth = 0; }
