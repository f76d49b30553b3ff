/** One SSH target. `name` is how the user named it (inventory alias or host string). */
export interface Target {
  name: string;
  host: string;
  port: number;
  user: string;
}
