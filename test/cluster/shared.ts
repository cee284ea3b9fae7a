import type { KubeCluster, ProductImages } from '@edgeplane/env';

/**
 * The run's one cluster, set by cluster.test.ts's beforeAll before any suite's hooks run: a
 * cluster per machine, and its start, image import and stop cost about a minute each time.
 */
export interface SharedCluster {
  cluster: KubeCluster;
  /** The product images from dist/images, imported; null when `make images` has not written them. */
  images: ProductImages | null;
}
