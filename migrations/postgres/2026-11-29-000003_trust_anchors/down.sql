DROP TABLE trust_anchors;
