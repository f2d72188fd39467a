// The bundled viewer: Neuroglancer (npm `neuroglancer`) with its default layout, state from the URL
// fragment, as `digest view` serves it. Built by `npm run build` (vite) into dist/viewer.
import 'neuroglancer';
import { setupDefaultViewer } from 'neuroglancer/unstable/ui/default_viewer_setup.js';

setupDefaultViewer();
